// One test per source of nondeterminism: the value differs between two unrecorded runs (so the
// test can fail), and a replay (offline, in another environment) prints the recorded value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, record, replay, runPlain, workdir, writeFiles } from './helpers.js';

interface Source {
  name: string;
  /** An ESM program body that prints the value(s) under test. */
  program: string;
  /** Environment of the two unrecorded runs, when the value comes from the environment. */
  envs?: [Record<string, string>, Record<string, string>];
  /** stdin of the two unrecorded runs (and of the recording, the first one). */
  inputs?: [string, string];
  /** Arguments of the two unrecorded runs. */
  args?: [string[], string[]];
}

const show = (expr: string) => `console.log(JSON.stringify(${expr}, (k, v) => typeof v === 'bigint' ? v.toString() : v));`;

const sources: Source[] = [
  { name: 'Date.now', program: show('Date.now()') },
  { name: 'new Date()', program: show('new Date().toISOString()') },
  { name: 'Date() as a function', program: show('Date()') + 'await new Promise((r) => setTimeout(r, 1100));' },
  { name: 'performance.now', program: show('performance.now()') },
  { name: 'performance.timeOrigin', program: show('performance.timeOrigin') },
  { name: 'perf_hooks performance.now', program: `import { performance } from 'node:perf_hooks'; ${show('performance.now()')}` },
  { name: 'process.hrtime', program: show('process.hrtime()') },
  { name: 'process.hrtime with a previous reading', program: `const t = process.hrtime(); ${show('process.hrtime(t)')}` },
  { name: 'process.hrtime.bigint', program: show('process.hrtime.bigint()') },
  { name: 'Math.random', program: show('[Math.random(), Math.random()]') },
  { name: 'crypto.randomUUID', program: `import { randomUUID } from 'node:crypto'; ${show('randomUUID()')}` },
  { name: 'globalThis.crypto.randomUUID', program: show('crypto.randomUUID()') },
  { name: 'crypto.randomBytes', program: `import { randomBytes } from 'node:crypto'; ${show("randomBytes(16).toString('hex')")}` },
  { name: 'crypto.randomBytes with a callback', program: `import { randomBytes } from 'node:crypto'; randomBytes(8, (e, b) => { ${show("b.toString('hex')")} });` },
  { name: 'crypto.randomFillSync', program: `import { randomFillSync } from 'node:crypto'; const b = Buffer.alloc(12); randomFillSync(b, 2, 8); ${show("b.toString('hex')")}` },
  { name: 'crypto.randomFill', program: `import { randomFill } from 'node:crypto'; randomFill(new Uint32Array(4), (e, a) => { ${show('Array.from(a)')} });` },
  { name: 'crypto.randomInt', program: `import { randomInt } from 'node:crypto'; ${show('[randomInt(1e9), randomInt(5, 1e9)]')}` },
  { name: 'crypto.randomInt with a callback', program: `import { randomInt } from 'node:crypto'; randomInt(1e9, (e, n) => { ${show('n')} });` },
  { name: 'crypto.getRandomValues', program: `import { getRandomValues } from 'node:crypto'; ${show('Array.from(getRandomValues(new Uint16Array(6)))')}` },
  { name: 'globalThis.crypto.getRandomValues', program: show('Array.from(crypto.getRandomValues(new Uint8Array(8)))') },
  { name: 'webcrypto.getRandomValues', program: `import { webcrypto } from 'node:crypto'; ${show('Array.from(webcrypto.getRandomValues(new Int32Array(3)))')}` },
  { name: 'process.env', program: show('[process.env.APP_MODE, process.env.LUCKY_NUMBER]'), envs: [{ APP_MODE: 'a', LUCKY_NUMBER: '1' }, { APP_MODE: 'b', LUCKY_NUMBER: '2' }] },
  { name: 'process.argv', program: show('process.argv.slice(2)'), args: [['--port', '1'], ['--port', '2']] },
  { name: 'process.pid and ppid', program: show('[process.pid, process.ppid]') },
  { name: 'process.memoryUsage', program: `globalThis.junk = new Array(Math.floor(Math.random() * 1e5)).fill(1); ${show('[process.memoryUsage(), process.memoryUsage.rss()]')}` },
  { name: 'process.cpuUsage and resourceUsage', program: show('[process.cpuUsage(), process.resourceUsage().maxRSS]') },
  { name: 'process.uptime', program: show('process.uptime()') },
  { name: 'os.freemem and os.uptime', program: `import os from 'node:os'; ${show('[os.freemem(), os.uptime()]')}` },
  { name: 'os.cpus', program: `import os from 'node:os'; ${show('os.cpus().map((c) => c.times)')}` },
  { name: 'os.loadavg and networkInterfaces', program: `import os from 'node:os'; for (let i = 0; i < 2e6; i++); ${show('[os.loadavg(), Object.keys(os.networkInterfaces()), os.hostname()]')}` },
  { name: 'stdin', program: `let s = ''; process.stdin.on('data', (d) => (s += d)); process.stdin.on('end', () => { ${show('s')} });`, inputs: ['first input', 'second input'] },
  // Eight timers: two unrecorded runs print the same order about once in 40,000 (with four, once in 24).
  { name: 'racing timers', program: `const order = []; for (const n of [1, 2, 3, 4, 5, 6, 7, 8]) setTimeout(() => order.push(n), Math.random() * 20); setTimeout(() => { ${show('order')} }, 40);` },
];

for (const source of sources) {
  test(`nondeterminism source: ${source.name}`, () => {
    const dir = workdir();
    writeFiles(dir, { 'app.mjs': source.program });
    const plain = [0, 1].map((i) =>
      runPlain(dir, ['app.mjs', ...(source.args?.[i] ?? [])], { env: source.envs?.[i], input: source.inputs?.[i] }),
    );
    for (const p of plain) assert.equal(p.status, 0, describeRun(p));
    if (source.name !== 'os.loadavg and networkInterfaces') {
      assert.notEqual(plain[0]!.stdout, plain[1]!.stdout, 'two unrecorded runs differ');
    }
    const rec = record(dir, ['node', 'app.mjs', ...(source.args?.[0] ?? [])], { env: source.envs?.[0], input: source.inputs?.[0] });
    assert.equal(rec.status, 0, describeRun(rec));
    // The replay gets the other environment and input, and no network: it must not care.
    const rep = replay(dir, [], { offline: true, env: source.envs?.[1], input: source.inputs?.[1] });
    assert.equal(rep.status, 0, describeRun(rep));
    assert.equal(rep.stdout, rec.stdout);
  });
}

test('nondeterminism source: the machine (hostname, network interfaces) differs in replay', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.mjs': `import os from 'node:os'; ${show('[os.hostname(), Object.keys(os.networkInterfaces()).sort()]')}` });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  // In a fresh network namespace the machine has only a loopback interface that is down.
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.stdout, rec.stdout);
  assert.match(rec.stdout, /"eth|"ens|"enp|"lo"/);
});

test('nondeterminism source: the working directory', () => {
  const dir = workdir();
  writeFiles(dir, { 'a/app.cjs': show('[process.cwd(), require("path").resolve("x")]'), 'b/.keep': '' });
  fs.cpSync(path.join(dir, 'a/app.cjs'), path.join(dir, 'b/app.cjs'));
  assert.notEqual(runPlain(path.join(dir, 'a'), ['app.cjs']).stdout, runPlain(path.join(dir, 'b'), ['app.cjs']).stdout);
  const rec = record(path.join(dir, 'a'), ['node', 'app.cjs']);
  fs.cpSync(path.join(dir, 'a/recording'), path.join(dir, 'b/recording'), { recursive: true });
  const rep = replay(path.join(dir, 'b'));
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
});
