// Recording production programs safely: owner-only files, write errors and caps that stop the
// recording and never the program, and the record command's own errors in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, describeRun, record, replay, retrace, workdir, writeFiles, type Run } from './helpers.js';

/** `retrace record` run by a shell with umask 000, so that only retrace decides the modes. */
function recordWithUmask000(cwd: string, out: string, command: string[]): Run {
  const r = spawnSync('sh', ['-c', 'umask 000 && exec "$@"', 'sh', process.execPath, cli, 'record', '--out', out, '--', ...command], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const mode = (p: string) => fs.statSync(p).mode & 0o777;

test('recording files are 0600 and the folders retrace makes 0700, even under umask 000', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.mjs': `
import { spawnSync } from 'node:child_process';
console.log('parent', Math.random() < 2);
spawnSync(process.execPath, ['-e', 'console.log("child", Math.random() < 2)'], { stdio: 'inherit' });
`,
  });
  const rec = recordWithUmask000(dir, 'deep/er/recording', ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stderr, /recorded 2 processes/);
  // The control: a file the program's shell makes under the same umask is world-writable.
  const files = fs.readdirSync(path.join(dir, 'deep/er/recording'));
  assert.deepEqual(files.sort(), ['p0.rtrc', 'p1.rtrc']);
  for (const f of files) assert.equal(mode(path.join(dir, 'deep/er/recording', f)).toString(8), '600', f);
  for (const d of ['deep', 'deep/er', 'deep/er/recording']) assert.equal(mode(path.join(dir, d)).toString(8), '700', d);
  const rep = replay(dir, ['deep/er/recording']);
  assert.equal(rep.status, 0, describeRun(rep));
});

/** A small tmpfs mounted at a fresh folder (root only), or null with the reason to skip. */
function mountTmpfs(options: string): { dir: string; unmount: () => void } | string {
  const dir = workdir('retrace-mount-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()}): needs root`;
  return { dir, unmount: () => void spawnSync('umount', ['-l', dir]) };
}

/** A program that keeps reading random bytes (each read is recorded) and then exits with status 3. */
const noisyProgram = `
import crypto from 'node:crypto';
let n = 0;
for (let i = 0; i < 300; i++) n += crypto.randomBytes(4096).length + Math.random();
const t = setInterval(() => { n += crypto.randomBytes(8192).length; }, 1);
setTimeout(() => { clearInterval(t); console.log('done', n > 0); process.exitCode = 3; }, 1200);
`;

const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('retrace: warning:'));

function assertStoppedCleanly(dir: string, recording: string, rec: Run, reason: RegExp): void {
  assert.equal(rec.status, 3, `the program's own exit status\n${describeRun(rec)}`);
  assert.match(rec.stdout, /^done true$/m);
  const w = warnings(rec.stderr);
  assert.equal(w.length, 1, `one warning\n${rec.stderr}`);
  assert.match(w[0]!, reason);
  assert.doesNotMatch(rec.stderr, /\n\s+at |internal error|ENOSPC.*\n.*at /);
  const info = retrace(dir, ['info', recording]);
  assert.equal(info.status, 0, describeRun(info));
  assert.match(info.stdout, /truncated \(recording stopped early: /);
  assert.match(info.stdout, reason);
  // Replay runs up to the last chunk written and says the recording ends there.
  const rep = replay(dir, [recording]);
  assert.match(rep.stderr, /recording ends here \(truncated\): recording stopped early/, describeRun(rep));
  assert.doesNotMatch(rep.stderr, /internal error|\n\s+at /);
}

test('a full disk stops the recording with one warning; the program runs on to its own exit status', (t) => {
  const mount = mountTmpfs('size=512k');
  if (typeof mount === 'string') return t.skip(mount);
  try {
    const dir = workdir();
    writeFiles(dir, { 'app.mjs': noisyProgram });
    const rec = record(dir, ['node', 'app.mjs'], { out: path.join(mount.dir, 'rec') });
    assertStoppedCleanly(dir, path.join(mount.dir, 'rec'), rec, /disk is full/);
  } finally {
    mount.unmount();
  }
});

test('--max-size and --max-duration stop the recording the same way', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.mjs': noisyProgram });
  const sized = retrace(dir, ['record', '--out', 'sized', '--max-size', '200k', '--', 'node', 'app.mjs']);
  assertStoppedCleanly(dir, 'sized', sized, /--max-size \(204800 bytes\)/);
  assert.ok(fs.statSync(path.join(dir, 'sized', 'p0.rtrc')).size <= 200 * 1024, 'the trace stays under the cap');
  const timed = retrace(dir, ['record', '--out', 'timed', '--max-duration', '300ms', '--', 'node', 'app.mjs']);
  assertStoppedCleanly(dir, 'timed', timed, /--max-duration \(300 ms\)/);
});

test('a read-only recording folder: record says so in one line; a process that cannot create its trace runs unrecorded', (t) => {
  const mount = mountTmpfs('size=1m,ro');
  if (typeof mount === 'string') return t.skip(mount);
  try {
    const dir = workdir();
    writeFiles(dir, { 'app.mjs': `console.log('ran', typeof Math.random()); process.exitCode = 3;` });
    const rec = record(dir, ['node', 'app.mjs'], { out: path.join(mount.dir, 'rec') });
    assert.equal(rec.status, 2, describeRun(rec));
    assert.equal(rec.stderr.trim(), `retrace: cannot record to ${path.join(mount.dir, 'rec')}: the file system is read-only`);
    // A process of the program whose trace cannot be created (the folder it inherited is read-only).
    const r = spawnSync(process.execPath, ['app.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, RETRACE_MODE: 'record', RETRACE_DIR: mount.dir, NODE_OPTIONS: `--require=${path.join(path.dirname(cli), '..', 'dist', 'src', 'runtime', 'preload-require.cjs')}` },
    });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout, 'ran number\n');
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /^retrace: warning: not recording .*app\.mjs: cannot create its trace in .* \(EROFS\)\n$/);
  } finally {
    mount.unmount();
  }
});

test("record's own errors are one line: a file as --out, a bad --max-size", () => {
  const dir = workdir();
  writeFiles(dir, { 'app.mjs': `console.log('ran')`, 'taken': 'x' });
  const r = retrace(dir, ['record', '--out', 'taken', '--', 'node', 'app.mjs']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '', 'the program did not run');
  assert.equal(r.stderr, 'retrace: cannot record to taken: a file of that name is in the way\n');
  const bad = retrace(dir, ['record', '--max-size', 'lots', '--', 'node', 'app.mjs']);
  assert.equal(bad.stderr, 'retrace: --max-size takes a size such as 500k, 100m or 5g, not "lots"\n');
});

test('prune deletes recordings by age and by total size, oldest first, and nothing else', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.mjs': `console.log(Math.random() < 2)` });
  const day = 86_400_000;
  const ages: Record<string, number> = { old: 10 * day, mid: 3 * day, new: day / 2 };
  for (const name of Object.keys(ages)) {
    const rec = record(dir, ['node', 'app.mjs'], { out: `recs/${name}` });
    assert.equal(rec.status, 0, describeRun(rec));
    const when = new Date(Date.now() - ages[name]!);
    fs.utimesSync(path.join(dir, 'recs', name, 'p0.rtrc'), when, when);
  }
  writeFiles(dir, { 'recs/mid/notes.txt': 'mine', 'recs/unrelated/file.txt': 'mine too' });
  const dry = retrace(dir, ['prune', '--older-than', '7d', '--dry-run', 'recs']);
  assert.equal(dry.status, 0, describeRun(dry));
  assert.match(dry.stdout, /^would delete recs\/old \(1 process, .* last written 10\.0 days ago\)$/m);
  assert.ok(fs.existsSync(path.join(dir, 'recs/old/p0.rtrc')));

  const byAge = retrace(dir, ['prune', '--older-than', '7d', 'recs']);
  assert.equal(byAge.status, 0, describeRun(byAge));
  assert.ok(!fs.existsSync(path.join(dir, 'recs/old')), 'the old recording and its folder are gone');
  assert.ok(fs.existsSync(path.join(dir, 'recs/mid/p0.rtrc')) && fs.existsSync(path.join(dir, 'recs/new/p0.rtrc')));

  const newSize = fs.statSync(path.join(dir, 'recs/new/p0.rtrc')).size;
  const bySize = retrace(dir, ['prune', '--max-total', String(newSize), 'recs']);
  assert.equal(bySize.status, 0, describeRun(bySize));
  assert.ok(!fs.existsSync(path.join(dir, 'recs/mid/p0.rtrc')), 'the older of the two went');
  assert.equal(fs.readFileSync(path.join(dir, 'recs/mid/notes.txt'), 'utf8'), 'mine', 'other files stay, and their folder');
  assert.ok(fs.existsSync(path.join(dir, 'recs/new/p0.rtrc')));
  assert.ok(fs.existsSync(path.join(dir, 'recs/unrelated/file.txt')));

  const usage = retrace(dir, ['prune', 'recs']);
  assert.equal(usage.status, 2);
  assert.equal(usage.stderr, 'retrace: prune needs --older-than AGE, --max-total SIZE or both\n');
  const help = retrace(dir, ['prune', '--help']);
  assert.match(help.stdout, /^usage: retrace prune/);
});
