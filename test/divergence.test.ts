import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describeRun, record, replay, repoRoot, workdir, writeFiles } from './helpers.js';

test('changed code that makes another call stops replay with a report naming both calls and the line', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.mjs': `import { randomInt } from 'node:crypto';
console.log('first', randomInt(100));
setTimeout(() => {
  console.log('second', randomInt(1000));
}, 5);
`,
  });
  assert.equal(record(dir, ['node', 'app.mjs']).status, 0);
  const app = path.join(dir, 'app.mjs');
  fs.writeFileSync(app, fs.readFileSync(app, 'utf8').replace('randomInt(1000)', 'randomInt(5000)'));
  const rep = replay(dir);
  assert.equal(rep.status, 86, describeRun(rep));
  const lines = rep.stderr.split('\n').filter((l) => l.startsWith('retrace:'));
  const report = lines.slice(lines.findIndex((l) => l.startsWith('retrace: replay diverged')));
  assert.match(report[0]!, /^retrace: replay diverged: event \d+: the recording has crypto\.randomInt\(1000\) → \d+/);
  assert.match(report[1]!, /the program attempted crypto\.randomInt\(5000\)/);
  assert.match(report[2]!, /at app\.mjs:4:25$/);
  assert.match(rep.stderr, /warning: .*app\.mjs changed since it was recorded/);
  assert.match(rep.stdout, /^first \d+\n$/, 'output up to the divergence is replayed');
});

test('a replay that goes idle before the recording ends is reported, never hangs', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': `setTimeout(() => console.log('late', Math.random()), 10);` });
  assert.equal(record(dir, ['node', 'app.js']).status, 0);
  fs.writeFileSync(path.join(dir, 'app.js'), `// the timer is gone\n`);
  const rep = replay(dir, [], { timeout: 20_000 });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /retrace: replay diverged: .*timers\.setTimeout/);
});

test('a program that ends early in replay is reported as diverged', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': `console.log(Math.random()); console.log(Math.random());` });
  assert.equal(record(dir, ['node', 'app.js']).status, 0);
  fs.writeFileSync(path.join(dir, 'app.js'), `console.log(Math.random()); process.exit(0);`);
  const rep = replay(dir);
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /retrace: replay diverged: [^\n]*\n[^\n]*attempted process\.exit\(0\)/);
});

test('TypeScript sources: the report names the .ts line', { skip: !process.features.typescript && 'this Node.js cannot run .ts files' }, () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.ts': `interface Reading { value: number }
function read(): Reading {
  return { value: Math.random() };
}
const first: Reading = read();
console.log(first.value);
`,
  });
  const rec = record(dir, ['node', 'app.ts']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.equal(replay(dir).stdout, rec.stdout);
  fs.writeFileSync(path.join(dir, 'app.ts'), fs.readFileSync(path.join(dir, 'app.ts'), 'utf8').replace('console.log(first.value);', 'console.log(first.value, Date.now());'));
  const rep = replay(dir);
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /at app\.ts:6:\d+/);
});

test('compiled TypeScript with source maps: the report names the original .ts line', () => {
  const dir = workdir();
  const source = `interface Reading { value: number }

function read(): Reading {
  return { value: Math.random() };
}
console.log(read().value);
`;
  writeFiles(dir, { 'src/app.ts': source });
  const tsc = (text: string) => {
    fs.writeFileSync(path.join(dir, 'src/app.ts'), text);
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '--sourceMap', '--outDir', 'dist', '--target', 'es2022', 'src/app.ts'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  };
  tsc(source);
  assert.equal(record(dir, ['node', 'dist/app.js']).status, 0);
  tsc(source.replace('Math.random()', 'Math.random() + Date.now()'));
  const rep = replay(dir);
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /attempted time\.Date\.now\(\)\nretrace:   at src\/app\.ts:4:40\n/);
});
