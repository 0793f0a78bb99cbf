// Opening a recording is safe: replay does not run code or Node.js flags a recording's header
// asks for unless the user trusts it (--trust), and says what it refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, record, replay, workdir, writeFiles } from './helpers.js';
import { chunksOf, fileOf, rawOf, withRaw } from './trace-bytes.js';

/** Rewrites the header of the recording's first trace. */
function editHeader(dir: string, edit: (header: { execArgv: string[]; argv: string[] }) => void): void {
  const file = path.join(dir, 'recording', 'p0.rtrc');
  const bytes = fs.readFileSync(file);
  const chunks = chunksOf(bytes);
  const header = JSON.parse(rawOf(chunks[0]!).toString('utf8'));
  edit(header);
  chunks[0] = withRaw(chunks[0]!, Buffer.from(JSON.stringify(header)));
  fs.writeFileSync(file, fileOf(bytes, chunks));
}

function recorded(): string {
  const dir = workdir('retrace-hostile-');
  writeFiles(dir, { 'app.mjs': `console.log('program', Math.random() < 2);` });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  return dir;
}

const refusal = /^retrace: the recording asks Node\.js to run (.*), which replay does not do for a recording unless you trust it: add --trust if you do$/;

test('a header asking for --import of a data: URL or --eval code is refused and listed; --trust runs it', () => {
  const dir = recorded();
  const evil = `--import=data:text/javascript,console.log("PWNED")`;
  editHeader(dir, (h) => h.execArgv.push(evil, '--eval', 'console.log("PWNED too")'));
  const r = replay(dir);
  assert.equal(r.status, 2, describeRun(r));
  assert.doesNotMatch(r.stdout, /PWNED/);
  const m = refusal.exec(r.stderr.trim());
  assert.ok(m, r.stderr);
  assert.equal(m[1], `${JSON.stringify(evil)}, "--eval console.log(\\"PWNED too\\")"`);
  // The control: trusted, the same recording runs the header's code, so the refusal is what kept it out.
  const trusted = replay(dir, ['--trust']);
  assert.match(trusted.stdout, /PWNED/, describeRun(trusted));
});

test('a --require of a file outside the project, and a program outside the project, are refused', () => {
  const dir = recorded();
  const outside = workdir('retrace-elsewhere-');
  writeFiles(outside, { 'evil.cjs': `console.log('PWNED');`, 'evil.mjs': `console.log('PWNED');` });
  editHeader(dir, (h) => h.execArgv.push('--require', path.join(outside, 'evil.cjs')));
  const r = replay(dir);
  assert.equal(r.status, 2, describeRun(r));
  assert.match(r.stderr, new RegExp(`asks Node\\.js to run "--require ${path.join(outside, 'evil.cjs')}"`));
  assert.doesNotMatch(r.stdout, /PWNED/);

  const dir2 = recorded();
  editHeader(dir2, (h) => {
    h.argv[1] = path.join(outside, 'evil.mjs');
  });
  const r2 = replay(dir2);
  assert.equal(r2.status, 2, describeRun(r2));
  assert.match(r2.stderr, /asks Node\.js to run "the program .*evil\.mjs, outside this project"/);
  assert.doesNotMatch(r2.stdout, /PWNED/);
});

test('flags that only change how Node.js runs the program pass without --trust, and a loader from an installed package', () => {
  const dir = workdir('retrace-flags-');
  writeFiles(dir, {
    'app.mjs': `import 'pre';\nconsole.log('program', Math.random() < 2);`,
    'node_modules/pre/package.json': JSON.stringify({ name: 'pre', version: '1.0.0', main: 'index.cjs' }),
    'node_modules/pre/index.cjs': `globalThis.preloaded = true;`,
    'pre.cjs': `console.log('project preload');`,
  });
  const rec = record(dir, ['node', '--enable-source-maps', '--stack-trace-limit=50', '--no-warnings', '--require', 'pre', '--require', './pre.cjs', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const r = replay(dir);
  assert.equal(r.status, 0, describeRun(r));
  assert.equal(r.stdout, rec.stdout);
  assert.match(r.stdout, /project preload/);
});

test('a node --test run replays without --trust: the test runner\'s flags only choose the project\'s own test files', () => {
  const dir = workdir('retrace-node-test-');
  writeFiles(dir, {
    'test/a.test.mjs': `import { test } from 'node:test';\ntest('draws', () => { console.log('drew', Math.random() < 2); });\n`,
  });
  const rec = record(dir, ['node', '--test', '--test-reporter=tap', '--test-reporter-destination=stdout', '--test-concurrency=1']);
  assert.equal(rec.status, 0, describeRun(rec));
  const r = replay(dir);
  assert.doesNotMatch(r.stderr, /unless you trust it/, describeRun(r));
  assert.equal(r.status, 0, describeRun(r));
  // A reporter that is a module outside the project is code: refused without --trust.
  editHeader(dir, (header) => header.execArgv.push('--test-reporter=/tmp/elsewhere-reporter.mjs'));
  const refused = replay(dir);
  assert.equal(refused.status, 2, describeRun(refused));
  assert.match(refused.stderr, /--test-reporter=\/tmp\/elsewhere-reporter\.mjs/);
});
