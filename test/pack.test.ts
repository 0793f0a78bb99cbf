// retrace pack / unpack: one file that replays on a machine with retrace and not the project.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canUnshare, describeRun, record, replay, retrace, workdir, writeFiles } from './helpers.js';

const PROJECT = {
  'package.json': JSON.stringify({ name: 'proj', type: 'module' }),
  // An ES module program, a CommonJS dependency found through "exports", JSON, and a child process.
  'app.js': `import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import twice from 'twice';
const require = createRequire(import.meta.url);
const settings = require('./settings.json');
const n = Math.random();
const total = twice(n) + settings.extra;
console.log('total', total, readFileSync('data.txt', 'utf8').trim());
const child = spawnSync(process.execPath, ['child.cjs'], { encoding: 'utf8' });
console.log('child said', child.stdout.trim());
`,
  'child.cjs': `console.log('child', Date.now() > 0);`,
  'settings.json': '{ "extra": 1000 }',
  'data.txt': 'recorded data\n',
  'node_modules/twice/package.json': JSON.stringify({ name: 'twice', exports: { '.': './lib/main.cjs' } }),
  'node_modules/twice/lib/main.cjs': `module.exports = (x) => x * 2;\n`,
};

function packedProject(): { base: string; project: string; packFile: string; recorded: string; cache: string } {
  const base = workdir();
  const project = path.join(base, 'proj');
  writeFiles(project, PROJECT);
  const rec = record(project, ['node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  const packFile = path.join(base, 'bug.retrace');
  const p = retrace(project, ['pack', '-o', packFile]);
  assert.equal(p.status, 0, describeRun(p));
  assert.match(p.stderr, /^retrace: packed 2 processes and \d+ source files \(.*\) into .*bug\.retrace: .*(KiB|MiB)$/m);
  return { base, project, packFile, recorded: rec.stdout, cache: path.join(base, 'cache') };
}

test('a packed recording replays in an empty folder, offline, with the project moved away', { skip: !canUnshare() && 'unshare -n is not permitted here' }, () => {
  const { base, project, packFile, recorded, cache } = packedProject();
  fs.renameSync(project, path.join(base, 'gone'));
  fs.rmSync(path.join(base, 'gone'), { recursive: true });
  const empty = path.join(base, 'empty');
  fs.mkdirSync(empty);
  const env = { RETRACE_CACHE: cache };
  for (let i = 0; i < 2; i++) {
    const rep = replay(empty, [packFile], { offline: true, env });
    assert.equal(rep.status, 0, describeRun(rep));
    assert.equal(rep.stdout, recorded);
    assert.match(recorded, /^total \d+\.\d+ recorded data\nchild said child true\n$/);
  }
  assert.deepEqual(fs.readdirSync(empty), [], 'nothing written in the folder replay ran from');
  const info = retrace(empty, ['info', packFile, '--json'], { env });
  assert.equal(info.status, 0, describeRun(info));
  assert.equal((JSON.parse(info.stdout) as unknown[]).length, 2);
  const show = retrace(empty, ['show', packFile, '--kind', 'fs', '--no-pager'], { env });
  assert.match(show.stdout, /data\.txt/);
  // print and why read FILE:LINE in the packed snapshot of the project.
  const printed = retrace(empty, ['print', packFile, '--at', 'app.js:9', '--expr', 'total'], { env });
  assert.equal(printed.status, 0, describeRun(printed));
  assert.equal(printed.stdout.trim().split(' ').at(-1), /^total (\S+)/m.exec(recorded)![1]);
  // VS Code debugs the packed snapshot: the configuration goes into it, and says to open it.
  const code = retrace(empty, ['vscode', packFile], { env });
  assert.equal(code.status, 0, describeRun(code));
  const workspace = /^Open (\S+) \(the packed snapshot of the project\) in VS Code/m.exec(code.stdout)?.[1];
  assert.ok(workspace && workspace.startsWith(cache), code.stdout);
  const launch = JSON.parse(fs.readFileSync(path.join(workspace, '.vscode', 'launch.json'), 'utf8')) as { configurations: { args: string[] }[] };
  assert.deepEqual(launch.configurations[0]!.args, ['replay', packFile]);
  assert.deepEqual(fs.readdirSync(empty), []);
  // The snapshot is the only copy of the sources: a damaged pack is refused, not half-replayed.
  const data = fs.readFileSync(packFile);
  data[Math.floor(data.length / 2)] ^= 0xff;
  fs.writeFileSync(path.join(base, 'damaged.retrace'), data);
  const damaged = replay(empty, [path.join(base, 'damaged.retrace')], { env: { RETRACE_CACHE: path.join(base, 'cache2') } });
  assert.equal(damaged.status, 2);
  assert.match(damaged.stderr, /^retrace: .*damaged\.retrace is damaged \(its checksum does not match\)/);
});

test('replay of a pack from a checkout says where the checkout differs from the snapshot', () => {
  const { project, packFile, recorded, cache } = packedProject();
  const env = { RETRACE_CACHE: cache };
  const same = replay(project, [packFile], { env });
  assert.equal(same.status, 0, describeRun(same));
  assert.doesNotMatch(same.stderr, /differs/);
  fs.appendFileSync(path.join(project, 'app.js'), 'console.log("added later");\n');
  fs.rmSync(path.join(project, 'child.cjs'));
  const changed = replay(project, [packFile], { env });
  assert.equal(changed.status, 0, describeRun(changed));
  assert.equal(changed.stdout, recorded, 'the snapshot is replayed, not the changed checkout');
  assert.match(changed.stderr, /^retrace: this folder differs from the packed snapshot of the project in 2 files \(app\.js, child\.cjs \(not here\)\): replaying the snapshot, as recorded$/m);
});

test('unpack gives the recording folder and the sources back', () => {
  const { base, project, packFile, recorded } = packedProject();
  const out = retrace(base, ['unpack', packFile, '-o', 'back']);
  assert.equal(out.status, 0, describeRun(out));
  const files = path.join(base, 'back', 'files', project);
  // data.txt was read through fs: its contents are in the recording, not a source to copy.
  assert.equal(fs.existsSync(path.join(files, 'data.txt')), false);
  for (const name of Object.keys(PROJECT).filter((n) => n !== 'data.txt')) assert.equal(fs.readFileSync(path.join(files, name), 'utf8'), PROJECT[name as keyof typeof PROJECT], name);
  assert.deepEqual(fs.readdirSync(path.join(base, 'back', 'recording')).sort(), ['p0.rtrc', 'p1.rtrc']);
  const rep = replay(files, [path.join(base, 'back', 'recording')]);
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, recorded);
  const again = retrace(base, ['unpack', packFile, '-o', 'back']);
  assert.equal(again.stderr, 'retrace: back exists and is not an empty folder; pick another with -o DIR\n');
  assert.equal(retrace(base, ['unpack', path.join(project, 'app.js')]).stderr, `retrace: ${path.join(project, 'app.js')} is not a retrace pack\n`);
});
