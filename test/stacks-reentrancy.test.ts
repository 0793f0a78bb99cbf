// Issue 12, classes a and b: the program never sees retrace's stack frames, and program code run
// inside retrace's own work (a prepareStackTrace that reads files, throwing getters, errors with
// names that are not strings, values that contain themselves) never corrupts a recording nor
// changes what the program sees; an event that cannot be encoded is said at once and in info.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { describeRun, record, replay, retrace, workdir, writeFiles } from './helpers.js';

test('stacks: timer callbacks and console.trace see the same stack in record and replay, without retrace frames', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `// Deep enough that no frame is cut off: retrace's frames count towards the limit when V8 captures.
Error.stackTraceLimit = 50;
setImmediate(() => { console.log(new Error('in an immediate').stack); });
setTimeout(() => { console.trace('in a timeout'); }, 1);
const e = new Error('nested');
Promise.resolve().then(() => setTimeout(function later() { console.log(e.stack.split('\\n').length, new Error('later').stack); }, 2));
`,
  });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.doesNotMatch(rec.stdout + rec.stderr.replace(/^retrace: .*$/gm, ''), /dist[\\/]src|retrace-node/, 'no retrace frame in record');
  const rep = replay(dir, ['recording'], { offline: true });
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
  assert.equal(rep.stderr.replace(/^retrace: .*\n/gm, ''), rec.stderr.replace(/^retrace: .*\n/gm, ''));
});

test('re-entrancy: a prepareStackTrace that reads files, throwing getters and non-string error names', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `const fs = require('node:fs');
// Like source-map-support: formatting a stack reads files.
Error.prepareStackTrace = (err, sites) => { fs.existsSync(__filename); return String(err.message) + ' @ ' + sites.length + ' sites'; };
try { fs.readFileSync('missing.txt'); } catch (e) { console.log('missing:', e.code, typeof e.stack); }
// The program's own error, thrown inside an intercepted call, with a name that is not a string
// and a getter that throws: recorded as the call's outcome.
const options = { get encoding() {
  const e = new Error('from a getter');
  e.name = { not: 'a string' };
  Object.defineProperty(e, 'code', { enumerable: true, get() { throw new Error('code getter'); } });
  throw e;
} };
try { fs.readFileSync(__filename, options); } catch (e) { console.log('caught:', e.message, typeof e.name); }
// An abort reason whose name is not a string becomes the cause of Node's AbortError.
const why = new Error('why'); why.name = 42;
fs.promises.readFile(__filename, { signal: AbortSignal.abort(why) }).catch((err) => {
  console.log('aborted:', err.name, err.cause.name, err.cause.message, Math.random());
});
console.log('random', Math.random());
`,
  });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.doesNotMatch(rec.stderr, /could not be encoded|internal error|TypeError/, describeRun(rec));
  assert.match(rec.stdout, /caught: from a getter object/);
  const info = retrace(dir, ['info', 'recording']);
  assert.doesNotMatch(info.stdout, /problem|truncated/, info.stdout);
  for (const attempt of [1, 2]) {
    const rep = replay(dir, ['recording'], { offline: true });
    assert.equal(rep.status, 0, `replay ${attempt}\n${describeRun(rep)}`);
    assert.equal(rep.stdout, rec.stdout);
  }
});

test('re-entrancy: a message that contains itself is recorded; one that cannot be encoded is said at once, in info, and where replay stops', () => {
  const dir = workdir();
  writeFiles(dir, {
    'parent.js': `const { fork } = require('node:child_process');
const child = fork('child.js', { serialization: 'advanced' });
child.on('message', (m) => console.log('got', m.kind, m.self === m, m.items ? m.items.size : ''));
child.on('exit', (code) => console.log('child exited', code));
`,
    'child.js': `const tree = { kind: 'tree', children: [] };
for (let i = 0; i < 8; i++) tree.children.push({ parent: tree, siblings: tree.children, i });
tree.self = tree;
process.send(tree);
// Its own iterator throws: v8.serialize sends it, the trace's encoder cannot walk it.
const items = new Map([[1, 'one']]);
items[Symbol.iterator] = () => { throw new Error('no iterating this map'); };
process.send({ kind: 'map', items }, () => process.disconnect());
`,
  });
  const rec = record(dir, ['node', 'parent.js'], { timeout: 60_000 });
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /got tree true/);
  assert.match(rec.stdout, /got map false 1/);
  assert.match(rec.stderr, /retrace: warning: event \d+ \(process\.send\) could not be encoded: Error: no iterating this map; the recording holds this in its place, and its replay will stop there/);
  const info = retrace(dir, ['info', 'recording']);
  assert.match(info.stdout, /problem: 1 event could not be encoded, and replay stops at the first: event \d+ \(process\.send\) could not be encoded/);
  const whole = replay(dir, ['recording'], { offline: true });
  assert.equal(whole.status, 0, describeRun(whole));
  assert.equal(whole.stdout, rec.stdout);
  const child = replay(dir, ['recording', '--process', '1'], { offline: true });
  assert.equal(child.status, 86, describeRun(child));
  assert.match(child.stderr, /the recording cannot go on from here: event \d+ \(process\.send\) could not be encoded/);
});
