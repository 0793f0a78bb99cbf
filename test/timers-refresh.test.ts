// A timeout refreshed after it fired fires again (Node re-arms it); undici's fetch keeps its
// request timers on one such timeout. The replay must deliver the second firing too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRun, record, replay, runPlain, workdir, writeFiles } from './helpers.js';

const PROGRAM = `
let fired = 0;
const started = Date.now();
const timer = setTimeout(() => {
  fired++;
  console.log('fired', fired, 'after', Date.now() - started, 'ms', Math.random());
  if (fired < 3) timer.refresh();
}, 5);
// Refreshing a pending timer only moves it: it still fires once for this refresh.
setTimeout(() => timer.refresh(), 2);
`;

test('a timeout refreshed after it fired fires again in replay, in its recorded turns', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.mjs': PROGRAM });
  const plain = runPlain(dir, ['app.mjs']);
  assert.equal(plain.stdout.match(/^fired \d/gm)?.length, 3, describeRun(plain));
  const rec = record(dir, [process.execPath, 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.equal(rec.stdout.match(/^fired \d/gm)?.length, 3, describeRun(rec));
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.stdout, rec.stdout, describeRun(rep));
  assert.equal(rep.status, 0, describeRun(rep));
});
