// bin/retrace.js run by a Node.js older than 22.15: it hands over to the project's own newer Node.js
// (node_modules/.bin/node, as `npm install --save-dev node@24` makes), or says how to get one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, describeRun, workdir, writeFiles } from './helpers.js';

/** A Node.js older than 22.15 on this machine's PATH (Debian's, here), if there is one. */
function oldNode(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, 'node');
    if (!fs.existsSync(file)) continue;
    const version = spawnSync(file, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    const [major, minor] = version.split('.').map(Number);
    if (major! < 22 || (major === 22 && minor! < 15)) return file;
  }
  return null;
}

const old = oldNode();
const skip = old === null && 'no Node.js older than 22.15 on the PATH to run retrace with';

function run(node: string, cwd: string, args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}` };
  for (const key of Object.keys(env)) if (key.startsWith('RETRACE_')) delete env[key];
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(node, [cli, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

test('on an old Node.js, retrace runs under the project\'s own newer one, and so does what it records', { skip }, () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': 'console.log(process.version, Math.random())' });
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  fs.symlinkSync(process.execPath, path.join(dir, 'node_modules', '.bin', 'node'));
  const rec = run(old!, dir, ['record', '--', 'node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stderr, new RegExp(`^retrace: this is Node\\.js v[\\d.]+; using the project's Node\\.js ${process.version.replaceAll('.', '\\.')} \\(node_modules/\\.bin/node\\)$`, 'm'));
  assert.match(rec.stdout, new RegExp(`^${process.version.replaceAll('.', '\\.')} 0\\.\\d+`));
  const rep = run(old!, dir, ['replay']);
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
});

test('on an old Node.js with none newer in the project, retrace says how to get one', { skip }, () => {
  const dir = workdir();
  const r = run(old!, dir, ['--version']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, /^retrace: Node\.js 22\.15 or newer is needed; this is Node\.js v[\d.]+ \(.*node\)\.$/);
  assert.match(lines[1]!, /npm install --save-dev node@24/);
  assert.match(lines[1]!, /nvm install 24/);
});
