// WebAssembly's asynchronous compile and instantiate: each settlement is a recorded delivery, and
// replay (which compiles the same bytes live) settles them in their recorded turns, rejections
// included. The load test (network-load.test.ts) shows why on Node 22: fetch's first connection
// awaits an llhttp compile while the server accepts other connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { TraceFile } from '../src/core/trace/reader.js';
import { describeRun, record, replay, workdir, writeFiles } from './helpers.js';

// (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
const ADD_MODULE = [
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01,
  0x00, 0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,
];

const PROGRAM = `
const bytes = new Uint8Array(${JSON.stringify(ADD_MODULE)});
// Timers racing the compiles: their turns relative to the settlements are what replay must keep.
for (let i = 0; i < 5; i++) setTimeout(() => console.log('timer', i, Math.random()), i);
const mod = await WebAssembly.compile(bytes);
console.log('compiled', Math.random());
const instance = await WebAssembly.instantiate(mod);
const both = await WebAssembly.instantiate(bytes);
let failure = 'none';
try {
  await WebAssembly.compile(new Uint8Array([0, 1, 2, 3]));
} catch (err) {
  failure = err.constructor.name;
}
console.log('add', instance.exports.add(2, 3), both.instance.exports.add(40, 2), failure, Math.random());
`;

test('WebAssembly compile and instantiate settle in their recorded turns in replay, a rejection too', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.mjs': PROGRAM });
  const rec = record(dir, [process.execPath, 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /^add 5 42 CompileError /m, describeRun(rec));
  const requests = new Map<number, string>();
  const settled: string[] = [];
  for (const ev of TraceFile.open(path.join(dir, 'recording', 'p0.rtrc')).events()) {
    if (ev.kind === 'request' && ev.channel.name.startsWith('wasm.')) requests.set(ev.reqId, `${ev.channel.name} ${JSON.stringify(ev.args)}`);
    else if (ev.kind === 'deliver' && requests.has(ev.reqId)) settled.push(requests.get(ev.reqId)!);
  }
  assert.deepEqual(settled, ['wasm.compile [41]', 'wasm.instantiate ["module"]', 'wasm.instantiate [41]', 'wasm.compile [4]']);
  for (let i = 0; i < 2; i++) {
    const rep = replay(dir, [], { offline: true });
    assert.equal(rep.stdout, rec.stdout, `replay ${i + 1}\n${describeRun(rep)}`);
    assert.equal(rep.status, 0, describeRun(rep));
  }
});
