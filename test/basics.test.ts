import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRun, record, replay, runPlain, workdir, writeFiles } from './helpers.js';

const program = `
import { randomUUID, randomBytes } from 'node:crypto';
console.log('now', Date.now(), new Date().toISOString(), Date());
console.log('random', Math.random(), randomUUID(), randomBytes(4).toString('hex'));
console.log('env', process.env.GREETING, process.pid, process.argv.slice(2).join(','));
console.log('perf', performance.now(), process.hrtime.bigint());
`;

test('time, randomness, env and pid replay as recorded, offline, in a different environment', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.mjs': program });
  const a = runPlain(dir, ['app.mjs', 'x'], { env: { GREETING: 'hi' } });
  const b = runPlain(dir, ['app.mjs', 'x'], { env: { GREETING: 'hi' } });
  assert.notEqual(a.stdout, b.stdout, 'unrecorded runs differ, so this test can fail');

  const rec = record(dir, ['node', 'app.mjs', 'x'], { env: { GREETING: 'hi' } });
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /env hi/);
  for (let i = 0; i < 3; i++) {
    const rep = replay(dir, [], { offline: true, env: { GREETING: 'other' } });
    assert.equal(rep.status, 0, describeRun(rep));
    assert.equal(rep.stdout, rec.stdout);
  }
});

test('the exit status and stderr of the program are replayed', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': `console.error('bad', Math.random()); process.exitCode = 3;` });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 3);
  const rep = replay(dir);
  assert.equal(rep.status, 3, describeRun(rep));
  assert.equal(rep.stderr.replace(/^retrace:.*\n/gm, ''), rec.stderr.replace(/^retrace:.*\n/gm, ''));
});
