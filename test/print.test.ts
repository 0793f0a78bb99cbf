// retrace print through the real CLI, replayed with no network: the values at every hit are the
// values the program itself computed (it prints them too), event numbers point at the recorded
// reads that produced them, TypeScript lines work through tsc source maps and through Node's type
// stripping, and wrong locations or expressions are explained in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { offlineCommand, cli, describeRun, record, repoRoot, workdir, writeFiles, type Run } from './helpers.js';

/** `retrace <command> ...` inside a network namespace with no network at all. */
function offline(cwd: string, args: string[]): Run {
  const [command, ...rest] = offlineCommand([process.execPath, cli, ...args]);
  const r = spawnSync(command!, rest, { cwd, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const LOOP = `const prices = [];
let total = 0;
for (let i = 0; i < 6; i++) {
  const price = Math.round(Math.random() * 1000) / 8;
  total += price;
  prices.push(price);
  console.log('total', total);
}
function neverCalled() {
  return total * 2;
}
console.log('done', prices.length);
`;

function hitsOf(stdout: string): { hit: number; event: number; value: string }[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^hit (\d+) \(event (\d+)\): (.*)$/.exec(l);
      assert.ok(m, `not a hit line: ${l}`);
      return { hit: Number(m[1]), event: Number(m[2]), value: m[3]! };
    });
}

test('print: the value at every hit is what the program computed, with the event that produced it', () => {
  const dir = workdir();
  writeFiles(dir, { 'loop.js': LOOP });
  const rec = record(dir, ['node', 'loop.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  const printed = rec.stdout.split('\n').filter((l) => l.startsWith('total ')).map((l) => l.slice(6));
  assert.equal(printed.length, 6);

  const r = offline(dir, ['print', '--at', 'loop.js:7', '--expr', 'total']);
  assert.equal(r.status, 0, describeRun(r));
  const hits = hitsOf(r.stdout);
  assert.deepEqual(hits.map((h) => h.value), printed);
  assert.deepEqual(hits.map((h) => h.hit), [1, 2, 3, 4, 5, 6]);
  // Each hit comes right after its iteration's Math.random: the event number names that reading.
  const randoms = offline(dir, ['show', '--kind', 'random', '--json'])
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { event: number }).event);
  assert.deepEqual(hits.map((h) => h.event), randoms);
  assert.deepEqual(hits.map((h) => h.event), [...new Set(hits.map((h) => h.event))].sort((a, b) => a - b));

  // Objects and arrays, one hit only, and JSON for tools.
  const third = offline(dir, ['print', '--at', 'loop.js:7', '--expr', '{ total, count: prices.length }', '--hit', '3']);
  assert.equal(third.status, 0, describeRun(third));
  assert.equal(third.stdout, `hit 3 (event ${hits[2]!.event}): {total: ${printed[2]}, count: 3}\n`);
  const json = offline(dir, ['print', '--at', 'loop.js:7', '--expr', 'prices', '--json', '--hit', '2']);
  assert.deepEqual(JSON.parse(json.stdout), { hit: 2, event: hits[1]!.event, value: `[${printed[0]}, ${Number(printed[1]) - Number(printed[0])}]`, type: 'array' });
});

test('print: a TypeScript line through tsc source maps, and through Node type stripping', () => {
  const dir = workdir();
  const source = `interface Item {
  name: string;
  price: number;
}

const items: Item[] = [
  { name: 'tea', price: 3 },
  { name: 'cake', price: 4.5 },
  { name: 'jam', price: 2 },
];

export function total(list: Item[]): number {
  let sum: number = 0;
  for (const item of list) {
    const discount: number = Math.random() < 0.5 ? 0.25 : 0;
    sum += item.price * (1 - discount);
    console.log('running', sum);
  }
  return sum;
}

console.log('total', total(items));
`;
  writeFiles(dir, {
    'src/orders.ts': source,
    'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'es2022', module: 'nodenext', outDir: 'dist', rootDir: 'src', sourceMap: true, strict: true } }),
    'package.json': '{"type": "module"}',
  });
  const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);

  const rec = record(dir, ['node', 'dist/orders.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  const printed = rec.stdout.split('\n').filter((l) => l.startsWith('running ')).map((l) => l.slice(8));
  const r = offline(dir, ['print', '--at', 'src/orders.ts:17', '--expr', 'sum']);
  assert.equal(r.status, 0, describeRun(r));
  assert.deepEqual(hitsOf(r.stdout).map((h) => h.value), printed);
  const item = offline(dir, ['print', '--at', 'src/orders.ts:16', '--expr', 'item.name', '--hit', '2']);
  assert.match(item.stdout, /^hit 2 \(event \d+\): "cake"\n$/);

  // The same source run as TypeScript by Node itself: lines stay where they are.
  const strip = record(dir, ['node', '--experimental-strip-types', '--no-warnings', 'src/orders.ts'], { out: 'stripped' });
  assert.equal(strip.status, 0, describeRun(strip));
  const stripped = strip.stdout.split('\n').filter((l) => l.startsWith('running ')).map((l) => l.slice(8));
  const s = offline(dir, ['print', 'stripped', '--at', 'src/orders.ts:17', '--expr', 'sum']);
  assert.equal(s.status, 0, describeRun(s));
  assert.deepEqual(hitsOf(s.stdout).map((h) => h.value), stripped);
});

test('print: a location that never runs, an expression that throws, and other bad arguments', () => {
  const dir = workdir();
  writeFiles(dir, { 'loop.js': LOOP, 'other.js': 'module.exports = 1;\n' });
  assert.equal(record(dir, ['node', 'loop.js']).status, 0);
  const fails = (args: string[], message: RegExp, stdout: RegExp | '' = '') => {
    const r = offline(dir, ['print', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${describeRun(r)}`);
    assert.match(r.stderr, message, args.join(' '));
    if (stdout === '') assert.equal(r.stdout, '', args.join(' '));
    else assert.match(r.stdout, stdout, args.join(' '));
    return r;
  };
  // Inside a function that is never called.
  fails(['--at', 'loop.js:10', '--expr', 'total'], /^retrace: loop\.js:10 never ran in this recording( \(V8 could only stop at line 12 .*\))?\n$/);
  fails(
    ['--at', 'loop.js:7', '--expr', 'totl * 2'],
    /retrace: the expression "totl \* 2" threw at all 6 hits: ReferenceError: totl is not defined\n$/,
    /^(hit \d \(event \d+\): threw ReferenceError: totl is not defined\n){6}$/,
  );
  fails(['--at', 'loop.js:7', '--expr', 'prices.push(1)', '--hit', '1'], /was not run at the hit: the expression could change the program/, /^hit 1 \(event \d+\): not run: /);
  fails(['--at', 'loop.js:7', '--expr', 'total', '--hit', '9'], /^retrace: loop\.js:7 ran 6 times in this recording; there is no hit 9\n$/);
  fails(['--at', 'other.js:1', '--expr', 'x'], /^retrace: other\.js is not part of the recorded program: no module it loaded is this file or was compiled from it \(it loaded loop\.js\)\n$/);
  fails(['--at', 'missing.js:3', '--expr', 'x'], /^retrace: no file missing\.js \(looked for .*missing\.js\)\n$/);
  fails(['--at', 'loop.js:99', '--expr', 'x'], /^retrace: loop\.js has 13 lines; there is no line 99\n$/);
  fails(['--at', 'loop.js', '--expr', 'x'], /^retrace: --at takes FILE:LINE or FILE:LINE:COLUMN \(lines from 1\), not "loop\.js"\n$/);
  fails(['--at', 'loop.js:7'], /^retrace: print needs --expr EXPR/);
  fails(['--at', 'loop.js:7', '--expr', 'let x = 1'], /^retrace: --expr "let x = 1" is not a JavaScript expression: /);
  fails(['nowhere', '--at', 'loop.js:7', '--expr', 'total'], /^retrace: no recording at nowhere\n$/);
});

test('print: a file run through a loader that compiles in memory is refused with a way out', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.ts': 'const n: number = Math.random();\nconsole.log(n < 1);\n' });
  const tsx = path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs');
  const rec = record(dir, ['node', '--import', tsx, 'app.ts']);
  assert.equal(rec.status, 0, describeRun(rec));
  const r = offline(dir, ['print', '--at', 'app.ts:2', '--expr', 'n']);
  assert.equal(r.status, 2, describeRun(r));
  assert.match(r.stderr, /^retrace: app\.ts:2 is compiled in memory by a loader \(.*tsx.*\), whose line numbers differ from the file's; stopping in it is not supported yet: compile with tsc --sourceMap/);
});
