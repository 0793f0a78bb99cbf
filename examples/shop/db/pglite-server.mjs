// An embedded PostgreSQL for the demo, in a process of its own: PGlite (PostgreSQL compiled to
// WebAssembly, in memory) served over TCP with the PostgreSQL wire protocol, so the shop connects
// with the ordinary `pg` client exactly as it would to a real server. It is not recorded: only
// the shop's server is, and its replay needs no database at all.
//
//   node examples/shop/db/pglite-server.mjs [--port N]
//
// Prints `DATABASE_URL=postgres://...` once it accepts connections; SIGTERM or SIGINT stops it.
// Every start is a fresh database loaded with schema.sql.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * A fresh in-memory database. Creating the first one runs PostgreSQL's initdb, which takes
 * several seconds of CPU; its data directory is kept as a tarball in node_modules/.cache and
 * later starts load that instead, in about a third of the time.
 */
async function freshDatabase() {
  const version = pgliteVersion();
  const cacheDir = path.resolve(here, '..', '..', '..', 'node_modules', '.cache', 'retrace-shop-demo');
  const template = path.join(cacheDir, `pglite-${version}-initdb.tar.gz`);
  let saved;
  try {
    saved = readFileSync(template);
  } catch {
    saved = undefined;
  }
  if (saved) return PGlite.create({ loadDataDir: new Blob([saved]) });
  const db = await PGlite.create();
  const dump = Buffer.from(await (await db.dumpDataDir('gzip')).arrayBuffer());
  mkdirSync(cacheDir, { recursive: true });
  // Written whole and renamed into place: a concurrent start never reads half a tarball.
  const partial = `${template}.${process.pid}`;
  writeFileSync(partial, dump);
  renameSync(partial, template);
  return db;
}

/** The installed PGlite's version: a data directory is only good for the PostgreSQL that made it. */
function pgliteVersion() {
  let dir = path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  while (path.basename(dir) !== 'pglite') dir = path.dirname(dir);
  return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

const db = await freshDatabase();
await db.exec(readFileSync(path.join(here, 'schema.sql'), 'utf8'));

// Several connections share the one PGlite backend: the socket server queues their queries and
// keeps the queries of an open transaction together.
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: Number(values.port), maxConnections: 16 });
await server.start();
const port = server.getServerConn().split(':').pop();
console.log(`DATABASE_URL=postgres://postgres@127.0.0.1:${port}/postgres`);

async function stop() {
  await server.stop();
  await db.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
