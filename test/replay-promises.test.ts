// Two promises the README makes, each checked so that it can fail:
// - a replay does not repeat the program's side effects: files it wrote (itself or through child
//   processes, Node or not) are not written again, and no child process runs;
// - a console.log added to the program after recording prints the recorded values, and the
//   replay still does not diverge (the program's own output is not compared).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertReplaysFaithfully, describeRun, record, replay, runPlain, workdir, writeFiles } from './helpers.js';

const SIDE_EFFECTS = `
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
const stamp = Date.now() + '-' + Math.random();
// a shell child appends to a file, a Node child appends to another, the program appends itself
execFileSync('sh', ['-c', 'echo "shell $1" >> shell.log', 'sh', stamp]);
await new Promise((resolve) => spawn(process.execPath, ['-e', 'require("fs").appendFileSync("node.log", "node " + process.argv[1] + "\\\\n")', stamp], { stdio: 'inherit' }).on('exit', resolve));
fs.appendFileSync('self.log', 'self ' + stamp + '\\n');
console.log('wrote', stamp);
`;

test('a replay repeats none of the side effects: no file written again, no child process run', () => {
  const dir = workdir('retrace-side-');
  writeFiles(dir, { 'app.mjs': SIDE_EFFECTS });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const logs = ['shell.log', 'node.log', 'self.log'];
  for (const log of logs) assert.equal(fs.readFileSync(path.join(dir, log), 'utf8').split('\n').filter(Boolean).length, 1, `${log} was written once while recording`);
  // The check can fail: a live run appends a second line to each.
  const copy = workdir('retrace-side-plain-');
  writeFiles(copy, { 'app.mjs': SIDE_EFFECTS });
  for (const log of logs) fs.copyFileSync(path.join(dir, log), path.join(copy, log));
  assert.equal(runPlain(copy, ['app.mjs']).status, 0);
  for (const log of logs) assert.equal(fs.readFileSync(path.join(copy, log), 'utf8').split('\n').filter(Boolean).length, 2, `a live run appends to ${log}`);
  // Twice, offline; every file in the folder (the logs included) is left as it was.
  assertReplaysFaithfully(dir, rec, { times: 2 });
  // With the logs gone, the replay does not make them again either.
  for (const log of logs) fs.rmSync(path.join(dir, log));
  assertReplaysFaithfully(dir, rec);
  for (const log of logs) assert.equal(fs.existsSync(path.join(dir, log)), false, `${log} is not made by the replay`);
});

const COMPUTE = `
import * as fs from 'node:fs';
const price = Math.round(Math.random() * 100000) / 100;
const token = crypto.randomUUID();
const started = new Date().toISOString();
fs.writeFileSync('out.json', JSON.stringify({ price, token, started }));
console.log('done');
`;

test('a console.log added after recording prints the recorded values, and the replay does not diverge', () => {
  const dir = workdir('retrace-log-');
  writeFiles(dir, { 'app.mjs': COMPUTE });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const recorded = JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8')) as { price: number; token: string; started: string };
  // Lines added, not changed: the external calls are the same, in the same order.
  const edited = COMPUTE.replace("const started = new Date().toISOString();", "const started = new Date().toISOString();\nconsole.log('looking:', JSON.stringify({ price, token, started }));")
    .replace("console.log('done');", "console.error('price was', price);\nconsole.log('done');");
  assert.notEqual(edited, COMPUTE);
  fs.writeFileSync(path.join(dir, 'app.mjs'), edited);
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 0, describeRun(rep));
  assert.doesNotMatch(rep.stderr, /replay diverged|recording ends here/, describeRun(rep));
  assert.equal(rep.stdout, `looking: ${JSON.stringify(recorded)}\ndone\n`);
  assert.match(rep.stderr, new RegExp(`^price was ${String(recorded.price).replace('.', '\\.')}$`, 'm'));
  // A live run of the edited program prints other values (so the check above can fail).
  const live = runPlain(dir, ['app.mjs']);
  assert.equal(live.status, 0, describeRun(live));
  assert.notEqual(live.stdout, rep.stdout);
});
