// The demos in examples/ run as `npm run demo:shop` and `npm run demo:ai-agent` do: record, then
// replay. Each demo checks its own replay against its recording; here the recording is replayed
// once more with no network at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describeRun, replay, repoRoot, workdir, type Run } from './helpers.js';
import { skipUnlessServer } from './network-helpers.js';

function runDemo(script: string, args: string[], env: Record<string, string> = {}): Run {
  const clean: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const key of Object.keys(clean)) if (key.startsWith('RETRACE_')) delete clean[key];
  delete clean.NODE_TEST_CONTEXT;
  if (!env.DATABASE_URL) delete clean.DATABASE_URL;
  // Starting the embedded PostgreSQL for the first time runs its initdb: seconds of CPU.
  const r = spawnSync(process.execPath, [path.join(repoRoot, script), ...args], { cwd: repoRoot, env: clean, encoding: 'utf8', timeout: 240_000 });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The shop server's own lines in the demo's output (the customers' lines are another process's). */
const serverLines = (stdout: string, times: number) => {
  const lines = stdout.split('\n').filter((l) => /^(shop[: ]|order \d|refused:)/.test(l));
  // The demo shows them once from the recording and once from its replay.
  assert.equal(lines.length % times, 0, stdout);
  return lines.slice(0, lines.length / times);
};

function checkShop(demo: Run, out: string): void {
  assert.equal(demo.status, 0, describeRun(demo));
  assert.match(demo.stdout, /The replay printed the same 10 lines and exited with the same status/);
  const recorded = serverLines(demo.stdout, 2);
  assert.equal(recorded.filter((l) => / total 0\.00$/.test(l)).length, 2, recorded.join('\n'));
  assert.ok(recorded.some((l) => /coupon LOYAL1, subtotal 36\.15, discount 36\.15, total 0\.00/.test(l)), recorded.join('\n'));

  const offline = replay(repoRoot, [out], { offline: true });
  assert.equal(offline.status, 0, describeRun(offline));
  assert.deepEqual(offline.stdout.trimEnd().split('\n'), recorded);
}

test('demo:shop records the shop on the embedded PostgreSQL and replays the 0.00 orders', () => {
  const out = path.join(workdir('retrace-demo-'), 'recording');
  const demo = runDemo('examples/shop/scripts/demo.mjs', ['--out', out]);
  assert.match(demo.stdout, /PGlite, an embedded PostgreSQL/);
  checkShop(demo, out);
});

test('demo:shop on a real PostgreSQL server named by DATABASE_URL', async (t) => {
  const why = await skipUnlessServer('PostgreSQL', 5432);
  if (why) return t.skip(why);
  const out = path.join(workdir('retrace-demo-'), 'recording');
  const demo = runDemo('examples/shop/scripts/demo.mjs', ['--out', out], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' });
  assert.match(demo.stdout, /the PostgreSQL server in DATABASE_URL/);
  checkShop(demo, out);
});

test('demo:ai-agent records the agent crashing on a prose answer and replays the same crash', () => {
  const out = path.join(workdir('retrace-demo-'), 'recording');
  const demo = runDemo('examples/ai-agent/demo.mjs', ['--out', out]);
  assert.equal(demo.status, 0, describeRun(demo));
  assert.match(demo.stdout, /The replay crashed the same way, with exit status 1:\n {2}SyntaxError: Unexpected token 'S', "Sure! This"\.\.\. is not valid JSON/);
  const classified = demo.stdout.split('\n').filter((l) => /^(run |m-\d+ →)/.test(l));
  const recorded = classified.slice(0, classified.length / 2);
  assert.equal(recorded.filter((l) => l.startsWith('m-')).length, 3, demo.stdout);

  const offline = replay(repoRoot, [out], { offline: true });
  assert.equal(offline.status, 1, describeRun(offline));
  assert.deepEqual(offline.stdout.trimEnd().split('\n'), recorded);
  assert.match(offline.stderr, /SyntaxError: Unexpected token 'S', "Sure! This"\.\.\. is not valid JSON\n\s+at JSON\.parse/);
});
