// Test runners, recorded and replayed offline: node --test, vitest (forks; threads stop loudly),
// jest (child-process workers) and mocha. A small project with a PostgreSQL table, randomness and
// the clock in test code, and one failing test; each runner's suite is recorded once and replayed
// twice with no network, to the recorded output and exit status, with nothing written to the
// project or the database and nothing added to the recording. `replay --test` replays the process
// that ran the failing test. The runners' cases run at once: they spend their time starting up.
// Replays pass --trust: the runners live in node_modules links that point outside the project, and
// `node --test` is a Node.js option replay asks to be trusted.
import { execFile } from 'node:child_process';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test, after } from 'node:test';
import pg from 'pg';
import { canUnshare, cli, describeRun, repoRoot, workdir, writeFiles, type Run } from './helpers.js';
import { skipUnlessServer, uniqueName } from './network-helpers.js';

/** One table per runner's case, so that the cases can run at once and count their own rows. */
const BASE = uniqueName('runner_items');
const tables: string[] = [];
const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 2 });
after(async () => {
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS ${t}`).catch(() => {});
  await pool.end();
});

const FILES: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'suite', private: true, type: 'commonjs' }),
  'db.js': `const { Client } = require('pg');
async function roundTrip(label) {
  const c = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
  await c.connect();
  const table = process.env.SUITE_TABLE;
  await c.query('CREATE TABLE IF NOT EXISTS ' + table + ' (id serial primary key, label text, r double precision, at bigint)');
  const r = Math.random();
  await c.query('INSERT INTO ' + table + ' (label, r, at) VALUES ($1, $2, $3)', [label, r, Date.now()]);
  const { rows } = await c.query('SELECT count(*)::int AS n, now()::text AS t FROM ' + table);
  await c.end();
  return { r, n: rows[0].n, t: rows[0].t };
}
module.exports = { roundTrip };
`,
  // describe/it are globals under jest, mocha and vitest (globals: true); node --test has them in node:test.
  'test/a.test.js': `const { roundTrip } = require('../db.js');
const assert = require('node:assert');
const describe = globalThis.describe ?? require('node:test').describe;
const it = globalThis.it ?? require('node:test').it;
describe('a', () => {
  it('stores a row', async () => {
    const row = await roundTrip('a');
    console.log('a row', row.r, row.n, row.t, Date.now(), new Date().toISOString());
    assert.ok(row.n > 0);
  });
  it('fails on purpose', () => {
    const x = Math.random();
    console.log('a random', x, Date.now());
    assert.strictEqual(x, 2);
  });
});
`,
  'test/b.test.js': `const { roundTrip } = require('../db.js');
const assert = require('node:assert');
const describe = globalThis.describe ?? require('node:test').describe;
const it = globalThis.it ?? require('node:test').it;
describe('b', () => {
  it('reads the clock', async () => {
    const row = await roundTrip('b');
    console.log('b row', row.r, Date.now(), Math.random());
    assert.ok(row.n > 0);
  });
});
`,
  'vitest.config.mjs': `export default { test: { globals: true, include: ['test/*.test.js'] } };\n`,
  'jest.config.js': `module.exports = { testMatch: ['**/test/*.test.js'], cacheDirectory: __dirname + '/.jest-cache' };\n`,
};

/** A project whose node_modules holds links to the runners: their caches (vite's) land in the project. */
async function project(): Promise<string> {
  const dir = workdir('retrace-runners-');
  const table = `${BASE}_${tables.length}`;
  tables.push(table);
  await pool.query(`CREATE TABLE ${table} (id serial primary key, label text, r double precision, at bigint)`);
  fs.writeFileSync(path.join(dir, '.table'), table);
  fs.mkdirSync(path.join(dir, 'node_modules'));
  for (const name of ['pg', 'vitest', 'vite', 'jest', 'mocha']) {
    fs.symlinkSync(path.join(repoRoot, 'node_modules', name), path.join(dir, 'node_modules', name), 'dir');
  }
  writeFiles(dir, FILES);
  return dir;
}

function env(table: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, SUITE_TABLE: table, NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' };
  for (const key of Object.keys(e)) if (key.startsWith('RETRACE_')) delete e[key];
  delete e.NODE_TEST_CONTEXT; // else a node --test child would report to this runner
  e.PATH = `${path.dirname(process.execPath)}${path.delimiter}${e.PATH ?? ''}`;
  return e;
}

function run(cwd: string, args: string[], offline = false): Promise<Run> {
  const table = fs.readFileSync(path.join(cwd, '.table'), 'utf8');
  const [command, argv] = offline && canUnshare() ? ['unshare', ['-n', process.execPath, ...args]] : [process.execPath, args];
  return new Promise((resolve) => {
    execFile(command, argv as string[], { cwd, env: env(table), timeout: 180_000, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
      resolve({ status: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/** What the program printed to stderr, without retrace's own lines. */
const programStderr = (s: string) => s.split('\n').filter((l) => !l.startsWith('retrace: ')).join('\n');

/**
 * node --test's runner process reads its clock through a handle Node takes before any preload runs
 * (lib/internal/test_runner/test.js keeps process.hrtime.bigint from its own startup), so its
 * summary's total duration is live in replay (docs/boundaries.md). Every other number, the test
 * processes' durations included, is the recorded one.
 */
const runnerDuration = (s: string) => s.replace(/^(ℹ|#) duration_ms [\d.]+$/m, '$1 duration_ms (live)'); // spec (Node 24) or TAP (Node 22's default for a pipe)

/** Every file under dir except the recording, with its size and modification time. */
function snapshot(dir: string, recording: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (p === path.join(dir, recording) || entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

interface RunnerCase {
  name: string;
  command: string[];
  normalize?: (s: string) => string;
  /** The test's own process replays alone without a divergence (not yet for vitest's and jest's workers). */
  processReplays?: boolean;
}

const bin = (dir: string, p: string) => path.join(dir, 'node_modules', p);

const CASES: ((dir: string) => RunnerCase)[] = [
  () => ({ name: 'node --test', command: ['--test'], normalize: runnerDuration, processReplays: true }),
  (d) => ({ name: 'vitest (forks pool)', command: [bin(d, 'vitest/vitest.mjs'), 'run', '--pool=forks'] }),
  (d) => ({ name: 'jest (child-process workers)', command: [bin(d, 'jest/bin/jest.js'), '--maxWorkers=2'] }),
  (d) => ({ name: 'mocha', command: [bin(d, 'mocha/bin/mocha.js'), 'test/*.test.js'], processReplays: true }),
];

async function rowCount(dir: string): Promise<number> {
  const table = fs.readFileSync(path.join(dir, '.table'), 'utf8');
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0].n as number;
}

describe('test runners recorded and replayed offline', { concurrency: true }, async () => {
  const why = await skipUnlessServer('PostgreSQL', 5432);

  for (const make of CASES) {
    const probe = make('');
    test(probe.name, { skip: why }, async () => {
      const dir = await project();
      const c = make(dir);
      const norm = c.normalize ?? ((s: string) => s);
      const rec = await run(dir, [cli, 'record', '--force', '--out', 'recording', '--', process.execPath, ...c.command]);
      assert.equal(rec.status, 1, `the suite has one failing test\n${describeRun(rec)}`);
      assert.match(rec.stdout + rec.stderr, /fails on purpose/);
      assert.doesNotMatch(rec.stderr, /could not be encoded|internal error/);

      const files = snapshot(dir, 'recording');
      const traces = fs.readdirSync(path.join(dir, 'recording')).sort();
      const sizes = traces.map((t) => fs.statSync(path.join(dir, 'recording', t)).size);
      const rows = await rowCount(dir);

      for (const attempt of [1, 2]) {
        const rep = await run(dir, [cli, 'replay', '--trust'], true);
        const label = `${c.name}, replay ${attempt}\n${describeRun(rep)}`;
        assert.equal(rep.status, rec.status, label);
        assert.equal(norm(rep.stdout), norm(rec.stdout), label);
        assert.equal(norm(programStderr(rep.stderr)), norm(programStderr(rec.stderr)), label);
      }
      assert.deepEqual(snapshot(dir, 'recording'), files, 'the replays wrote nothing in the project');
      assert.deepEqual(fs.readdirSync(path.join(dir, 'recording')).sort(), traces, 'nothing was added to the recording');
      assert.deepEqual(traces.map((t) => fs.statSync(path.join(dir, 'recording', t)).size), sizes);
      assert.equal(await rowCount(dir), rows, 'the replays did not reach the database');

      // info says which process ran which test file; replay --test finds the failing test's.
      const info = await run(dir, [cli, 'info', 'recording']);
      const ran = new Map([...info.stdout.matchAll(/^process (\d+)[^\n]*\n(?:  [^\n]*\n)*?  ran test files?: ([^\n]*)/gm)].map((m) => [m[1]!, m[2]!]));
      const one = await run(dir, [cli, 'replay', 'recording', '--trust', '--test', 'fails on purpose'], true);
      const chosen = /"fails on purpose" ran in process (\d+)\b/.exec(one.stderr)?.[1];
      assert.ok(chosen && /\btest\/a\.test\.js\b/.test(ran.get(chosen) ?? ''), `replay --test picks a process info says ran test/a.test.js\n${info.stdout}\n${describeRun(one)}`);
      assert.match(one.stderr, new RegExp(`replaying process ${chosen}:`));
      if (c.processReplays) assert.doesNotMatch(one.stderr, /diverged/, describeRun(one));
      const byFile = await run(dir, [cli, 'replay', 'recording', '--trust', '--test', 'test/a.test.js'], true);
      assert.match(byFile.stderr, new RegExp(`ran in process ${chosen}\\b`), describeRun(byFile));
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  test('vitest threads pool: record says replay stops there, and replay stops there instead of running tests live', { skip: why }, async () => {
    const dir = await project();
    const rec = await run(dir, [cli, 'record', '--force', '--out', 'recording', '--', process.execPath, bin(dir, 'vitest/vitest.mjs'), 'run', '--pool=threads']);
    assert.equal(rec.status, 1, describeRun(rec));
    assert.match(rec.stderr, /vitest's threads pool runs test files in worker threads .* a replay of this recording will stop here\. Record with --pool=forks/);
    const rows = await rowCount(dir);
    const rep = await run(dir, [cli, 'replay', '--trust'], true);
    assert.equal(rep.status, 86, describeRun(rep));
    assert.match(rep.stderr, /replay diverged: the program started a worker thread .*vitest[\\/]dist[\\/]workers[\\/]threads\.js/);
    assert.doesNotMatch(rep.stdout, /a random/, 'no test ran live');
    assert.equal(await rowCount(dir), rows);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
