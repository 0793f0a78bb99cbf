// `npm run demo:shop`: records the shop's server while a few customers place orders, then
// replays the recording with the database gone.
//
//   node examples/shop/scripts/demo.mjs [--out DIR]
//
// The database is PGlite (an embedded PostgreSQL) in a process of its own, or the PostgreSQL
// server DATABASE_URL names (the demo replaces its shop_* tables). Only the shop's server runs
// under `retrace record`; the database and the customers are not recorded.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const shop = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repo = path.resolve(shop, '..', '..');
const retrace = path.join(repo, 'bin', 'retrace.js');
const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(shop, 'recording') } } });
// Paths are shown and passed relative to the project folder: replay runs from there.
const relativeOut = path.relative(repo, path.resolve(values.out));
const out = relativeOut.startsWith('..') ? path.resolve(values.out) : relativeOut || '.';

// The database and the recorded server are this script's children: they go when it goes.
const children = new Set();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

const step = (text) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const fail = (text) => {
  console.error(`demo: ${text}`);
  process.exit(1);
};

/** Starts a process and resolves with it and the first stdout line matching `ready`. */
function startUntil(command, args, ready, options) {
  const child = spawn(command, args, { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'], ...options });
  children.add(child);
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, output })));
  const match = new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const m = ready.exec(output);
      if (m) resolve(m);
    });
    void exited.then(({ code, signal }) => reject(new Error(`${path.basename(args[0] ?? command)} exited (${signal ?? code}) before it was ready:\n${output}`)));
  });
  return { child, exited, match, output: () => output };
}

/** Whether every source file is older than the JavaScript compiled from it. */
function builtFromCurrentSources() {
  const sources = readdirSync(path.join(shop, 'src')).filter((f) => f.endsWith('.ts'));
  return sources.every((f) => {
    const compiled = path.join(shop, 'dist', f.replace(/\.ts$/, '.js'));
    return existsSync(compiled) && statSync(compiled).mtimeMs >= statSync(path.join(shop, 'src', f)).mtimeMs;
  });
}

step('build: tsc -p examples/shop (JavaScript and source maps in examples/shop/dist)');
if (builtFromCurrentSources()) {
  console.log('up to date');
} else {
  const tsc = spawnSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', shop], { stdio: 'inherit' });
  if (tsc.status !== 0) fail('the shop did not compile');
}

let databaseUrl = process.env.DATABASE_URL;
let database;
if (databaseUrl) {
  step('database: the PostgreSQL server in DATABASE_URL (loading examples/shop/db/schema.sql)');
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(readFileSync(path.join(shop, 'db', 'schema.sql'), 'utf8'));
  await client.end();
} else {
  step('database: PGlite, an embedded PostgreSQL, in its own process (not recorded)');
  database = startUntil(process.execPath, [path.join(shop, 'db', 'pglite-server.mjs')], /^DATABASE_URL=(\S+)$/m);
  databaseUrl = (await database.match)[1];
  console.log(`PostgreSQL (PGlite) at ${databaseUrl}`);
}

step(`record: retrace record --out ${out} -- node examples/shop/dist/server.js`);
const server = startUntil(
  process.execPath,
  [retrace, 'record', '--force', '--out', out, '--', process.execPath, path.join('examples', 'shop', 'dist', 'server.js')],
  /^shop listening on (\S+)$/m,
  { env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0' } },
);
server.child.stdout.pipe(process.stdout);
const url = (await server.match)[1];

// Not spawnSync: this process passes the server's output on while the customers run.
const customers = spawn(process.execPath, [path.join(shop, 'scripts', 'load.mjs'), url], { stdio: 'inherit' });
const customersDone = await new Promise((resolve) => customers.on('exit', (code) => resolve(code)));
if (customersDone !== 0) fail('the customers could not place their orders');

// The recording ends when the server stops: SIGTERM reaches it through `retrace record`.
server.child.kill('SIGTERM');
const recorded = await server.exited;
if (recorded.code !== 0) fail(`the recorded server exited with ${recorded.signal ?? recorded.code}`);
if (database) {
  database.child.kill('SIGTERM');
  await database.exited;
  console.log('(the embedded PostgreSQL is stopped)');
}

step(`replay: retrace replay ${out}   (no database, no customers: the recording answers)`);
const replay = spawnSync(process.execPath, [retrace, 'replay', out], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
process.stdout.write(replay.stdout);
if (replay.status !== recorded.code) fail(`the replay exited with ${replay.status}, the recording with ${recorded.code}`);
if (replay.stdout !== recorded.output) fail('the replay printed something else than the recording');
console.log(`\nThe replay printed the same ${recorded.output.trim().split('\n').length} lines and exited with the same status.`);
console.log(`Two orders cost 0.00: see examples/shop/README.md to find out why, starting with\n  npx retrace show ${out} --kind http`);
