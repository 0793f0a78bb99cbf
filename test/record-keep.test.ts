// retrace record --keep failure: the recording stays only when the command failed or a recorded
// process crashed (a CI job keeps the failing run), and record says which.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, replay, retrace, workdir, writeFiles } from './helpers.js';

const PROGRAM = {
  // A runner-like parent: starts a worker it ends with SIGTERM, and a child that does what it is told.
  'app.js': `
const { spawn } = require('node:child_process');
console.log('random', Math.random());
const worker = spawn(process.execPath, ['worker.js'], { stdio: ['ignore', 'pipe', 'inherit'] });
worker.stdout.once('data', () => worker.kill('SIGTERM'));
worker.on('exit', () => {
  const child = spawn(process.execPath, ['child.js'], { stdio: 'inherit' });
  child.on('exit', (code) => { console.log('child exited', code); process.exit(Number(process.env.PARENT_EXIT ?? 0)); });
});
`,
  'worker.js': `console.log('ready', Math.random()); setInterval(() => {}, 1000);`,
  'child.js': `if (process.env.CHILD_CRASH) throw new Error('child crashed'); console.log('child ok', Date.now() > 0);`,
};

test('--keep failure deletes the recording of a run that passed', () => {
  const dir = workdir();
  writeFiles(dir, PROGRAM);
  const r = retrace(dir, ['record', '--keep', 'failure', '--out', 'rec', '--', 'node', 'app.js']);
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stdout, /child exited 0/);
  assert.match(r.stderr, /^retrace: deleted the recording of 3 processes \(--keep failure\): the command exited with status 0 and no recorded process crashed$/m);
  assert.equal(fs.existsSync(path.join(dir, 'rec')), false, 'the folder record made is gone');
  // A folder that was there stays.
  fs.mkdirSync(path.join(dir, 'kept'));
  const again = retrace(dir, ['record', '--keep=failure', '--out', 'kept', '--', 'node', 'app.js']);
  assert.equal(again.status, 0, describeRun(again));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'kept')), []);
});

test('--keep failure keeps the recording when the command fails, and it replays', () => {
  const dir = workdir();
  writeFiles(dir, PROGRAM);
  const r = retrace(dir, ['record', '--keep', 'failure', '--', 'node', 'app.js'], { env: { PARENT_EXIT: '3' } });
  assert.equal(r.status, 3, describeRun(r));
  assert.match(r.stderr, /^retrace: kept the recording of 3 processes in recording \(--keep failure\): the command exited with status 3; process 0 \(node app\.js\) exited with status 3$/m);
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 3, describeRun(rep));
  // The root process replays; its child's own output was the child's (answered from the recording).
  assert.equal(rep.stdout, r.stdout.replace(/^child ok true\n/m, ''));
  assert.match(rep.stdout, /^random 0\.\d+\nchild exited 0\n$/);
});

test('--keep failure keeps the recording when a recorded process crashed though the command passed', () => {
  const dir = workdir();
  writeFiles(dir, PROGRAM);
  const r = retrace(dir, ['record', '--keep', 'failure', '--', 'node', 'app.js'], { env: { CHILD_CRASH: '1' } });
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stdout, /child exited 1/);
  assert.match(r.stderr, /^retrace: kept the recording of 3 processes in recording \(--keep failure\): process 2 \(node child\.js\) exited with status 1$/m);
  const info = JSON.parse(retrace(dir, ['info', '--json']).stdout) as { process: number }[];
  assert.equal(info.length, 3);
});

test('--keep always is the default; --keep takes always or failure', () => {
  const dir = workdir();
  writeFiles(dir, PROGRAM);
  const r = retrace(dir, ['record', '--', 'node', 'app.js']);
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stderr, /^retrace: recorded 3 processes to recording$/m);
  assert.equal(fs.readdirSync(path.join(dir, 'recording')).length, 3);
  const bad = retrace(dir, ['record', '--keep', 'sometimes', '--', 'node', 'app.js']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'retrace: --keep takes always or failure, not "sometimes"\n');
});
