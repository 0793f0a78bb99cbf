// The fs boundary, end to end through the real CLI: each program reads and writes files in its
// working directory; after recording, the files are changed or deleted, and the offline replay must
// still print exactly what the recording printed, and leave the disk as it found it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertReplaysFaithfully, describeRun, record, replay, retrace, runPlain, workdir, writeFiles, type Run } from './helpers.js';

/** Replays offline and checks the run matches the recording and the disk is untouched. */
function assertReplays(dir: string, rec: Run): Run {
  return assertReplaysFaithfully(dir, rec);
}

/** Records app.mjs in dir (status 0 expected). */
function recordApp(dir: string, file = 'app.mjs'): Run {
  const rec = record(dir, ['node', file]);
  assert.equal(rec.status, 0, describeRun(rec));
  return rec;
}

/**
 * Two unrecorded runs of the program print different things, so the test can fail: the second runs
 * in a fresh copy of the files where only count.txt, which the first run wrote, has changed.
 */
function assertRunsDiffer(files: Record<string, string>, file = 'app.mjs'): void {
  const runs = [0, 1].map(() => {
    const dir = workdir('retrace-fs-plain-');
    writeFiles(dir, files);
    return dir;
  });
  const a = runPlain(runs[0]!, [file]);
  assert.equal(a.status, 0, describeRun(a));
  fs.copyFileSync(path.join(runs[0]!, 'count.txt'), path.join(runs[1]!, 'count.txt'));
  const b = runPlain(runs[1]!, [file]);
  assert.equal(b.status, 0, describeRun(b));
  assert.notEqual(a.stdout, b.stdout, 'unrecorded runs differ');
  for (const dir of runs) fs.rmSync(dir, { recursive: true, force: true });
}

function eventsByKind(dir: string): Record<string, number> {
  const info = retrace(dir, ['info', '--json']);
  assert.equal(info.status, 0, describeRun(info));
  return (JSON.parse(info.stdout) as { eventsByKind: Record<string, number> }[])[0]!.eventsByKind;
}

const fsKinds = (kinds: Record<string, number>) => Object.keys(kinds).filter((k) => k.startsWith('fs.')).sort();

// Every program starts from a counter file it increments, so two unrecorded runs differ.
const COUNTER = `
const count = fs.existsSync('count.txt') ? Number(fs.readFileSync('count.txt', 'utf8')) : 0;
console.log('run', count);
fs.writeFileSync('count.txt', String(count + 1));
`;

test('sync API: reads, writes, metadata, directories and links replay from the recording, not the disk', () => {
  const program = `import * as fs from 'node:fs';
${COUNTER}
const show = (label, v) => console.log(label, typeof v === 'string' ? v : JSON.stringify(v, (k, x) => typeof x === 'bigint' ? String(x) : x));
fs.writeFileSync('notes.txt', 'first line\\n');
fs.appendFileSync('notes.txt', 'second line ' + count + '\\n');
show('read utf8', fs.readFileSync('notes.txt', 'utf8'));
show('read buffer', fs.readFileSync('notes.txt').toString('hex'));
show('input', fs.readFileSync('input.txt', { encoding: 'utf8' }));
show('exists', [fs.existsSync('input.txt'), fs.existsSync('nope.txt')]);
const st = fs.statSync('input.txt');
show('stat', [st.isFile(), st.isDirectory(), st.size, st.mtimeMs, st.ino, st.mtime.toISOString()]);
fs.accessSync('input.txt', fs.constants.R_OK);
fs.mkdirSync('tree/a/b', { recursive: true });
fs.writeFileSync('tree/a/b/leaf.txt', 'leaf');
fs.writeFileSync('tree/top.txt', 'top');
show('readdir', fs.readdirSync('tree'));
show('readdir types', fs.readdirSync('tree', { withFileTypes: true }).map((d) => [d.name, d.isFile(), d.isDirectory(), d.parentPath]));
show('readdir recursive', fs.readdirSync('tree', { recursive: true }).sort());
const tmp = fs.mkdtempSync('tmp-');
show('mkdtemp', tmp);
fs.renameSync('tree/top.txt', tmp + '/moved.txt');
fs.copyFileSync(tmp + '/moved.txt', 'copied.txt');
fs.cpSync('tree', 'tree-copy', { recursive: true });
show('cp', fs.readdirSync('tree-copy', { recursive: true }).sort());
fs.symlinkSync('input.txt', 'link.txt');
fs.linkSync('input.txt', 'hard.txt');
show('readlink', fs.readlinkSync('link.txt'));
show('lstat', [fs.lstatSync('link.txt').isSymbolicLink(), fs.statSync('hard.txt').nlink]);
show('realpath', [fs.realpathSync('link.txt') === fs.realpathSync.native('input.txt'), fs.realpathSync('tree/a/../a')]);
fs.chmodSync('copied.txt', 0o600);
fs.chownSync('copied.txt', process.getuid(), process.getgid());
fs.utimesSync('copied.txt', new Date(1000), new Date(2000));
show('after chmod', [(fs.statSync('copied.txt').mode & 0o777).toString(8), fs.statSync('copied.txt').mtimeMs]);
fs.truncateSync('copied.txt', 2);
const fd = fs.openSync('rw.bin', 'w+', 0o644);
show('write', fs.writeSync(fd, Buffer.from('0123456789')));
show('write string', fs.writeSync(fd, 'abc', 10, 'utf8'));
show('writev', fs.writevSync(fd, [Buffer.from('XY'), Buffer.from('Z')], 13));
fs.fsyncSync(fd);
fs.fdatasyncSync(fd);
show('fstat', fs.fstatSync(fd).size);
const buf = Buffer.alloc(6, '.');
show('readSync', [fs.readSync(fd, buf, 1, 4, 2), buf.toString()]);
const parts = [Buffer.alloc(3), Buffer.alloc(4)];
show('readvSync', [fs.readvSync(fd, parts, 8), parts.map(String)]);
fs.ftruncateSync(fd, 5);
fs.closeSync(fd);
show('rw.bin', fs.readFileSync('rw.bin', 'latin1'));
const dir = fs.opendirSync('tree/a');
const first = dir.readSync();
show('opendir', [dir.path, first.name, first.isDirectory(), dir.readSync()]);
dir.closeSync();
show('statfs', [fs.statfsSync('.').bsize > 0, fs.statfsSync('.').bfree]);
fs.unlinkSync('hard.txt');
fs.rmSync('tree-copy', { recursive: true });
fs.rmSync(tmp + '/moved.txt');
fs.rmdirSync(tmp);
fs.writeSync(1, 'straight to stdout ' + count + '\\n');
console.log('done');
`;
  const files = { 'app.mjs': program, 'input.txt': 'recorded input' };
  assertRunsDiffer(files);

  const dir = workdir('retrace-fs-sync-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /^run 0\n/);
  assert.match(rec.stdout, /straight to stdout 0\n/);
  // Change everything the program touched: replay must not notice.
  fs.writeFileSync(path.join(dir, 'input.txt'), 'changed on disk');
  fs.writeFileSync(path.join(dir, 'count.txt'), '41');
  for (const name of ['tree', 'notes.txt', 'copied.txt', 'rw.bin', 'link.txt']) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  assertReplays(dir, rec);

  const kinds = eventsByKind(dir);
  assert.equal(kinds['fs.writeSync'], 2, 'the writes to rw.bin are recorded, the one to stdout is not');
  for (const kind of ['fs.readvSync', 'fs.writevSync', 'fs.opendirSync', 'fs.Dir.readSync', 'fs.realpathSync.native', 'fs.cpSync', 'fs.statfsSync']) {
    assert.ok(kinds[kind], `${kind} is recorded`);
  }
});

test('callback API: results, errors and the order in which callbacks ran replay as recorded', () => {
  const program = `import * as fs from 'node:fs';
import { promisify } from 'node:util';
${COUNTER}
const log = (...a) => console.log(...a);
const steps = [
  (next) => fs.writeFile('a.txt', 'alpha ' + count, next),
  (next) => fs.appendFile('a.txt', '+more', next),
  (next) => fs.readFile('a.txt', 'utf8', (err, text) => (log('readFile', err, text), next())),
  (next) => fs.readFile('input.txt', (err, buf) => (log('input', buf.toString('hex')), next())),
  (next) => fs.stat('a.txt', (err, st) => (log('stat', st.isFile(), st.size, st.mtime.getTime() === Math.round(st.mtimeMs)), next())),
  (next) => fs.lstat('input.txt', { bigint: true }, (err, st) => (log('lstat bigint', typeof st.size, st.isFile()), next())),
  (next) => fs.access('nope.txt', (err) => (log('access', err.code, err.syscall, err.path), next())),
  (next) => fs.exists('a.txt', (yes) => fs.exists('nope.txt', (no) => (log('exists', yes, no), next()))),
  (next) => promisify(fs.exists)('a.txt').then((yes) => (log('promisified exists', yes), next())),
  (next) => fs.mkdir('sub/deeper', { recursive: true }, (err, made) => (log('mkdir', err, made && made.endsWith('sub')), next())),
  (next) => fs.mkdtemp('tmp-', (err, name) => (log('mkdtemp', name), fs.rmdir(name, next))),
  (next) => fs.readdir('.', { withFileTypes: true }, (err, list) => (log('readdir', list.filter((d) => d.name !== 'recording').map((d) => d.name + (d.isDirectory() ? '/' : '')).sort()), next())),
  (next) => fs.rename('a.txt', 'sub/b.txt', next),
  (next) => fs.copyFile('sub/b.txt', 'c.txt', next),
  (next) => fs.cp('sub', 'sub2', { recursive: true }, (err) => (log('cp', err), next())),
  (next) => fs.truncate('c.txt', 3, (err) => fs.readFile('c.txt', 'utf8', (e, t) => (log('truncate', err, t), next()))),
  (next) => fs.symlink('c.txt', 'link', (err) => fs.readlink('link', (e, target) => fs.realpath('link', (e2, real) => (log('links', target, real.endsWith('c.txt')), next())))),
  (next) => fs.chmod('c.txt', 0o640, (err) => fs.utimes('c.txt', 5, 6, (e) => fs.stat('c.txt', (e2, st) => (log('chmod utimes', (st.mode & 0o777).toString(8), st.mtimeMs), next())))),
  (next) => fs.open('rw.bin', 'w+', (err, fd) => {
    fs.write(fd, Buffer.from('hello world'), 0, 11, 0, (e, n, b) => {
      log('write', n, b.toString());
      fs.write(fd, ' again', (e2, n2, s) => {
        log('write string', n2, s);
        fs.writev(fd, [Buffer.from('!'), Buffer.from('?')], (e3, n3) => {
          log('writev', n3);
          fs.fsync(fd, () => fs.fstat(fd, (e4, st) => {
            log('fstat', st.size);
            fs.ftruncate(fd, 4, () => fs.close(fd, next));
          }));
        });
      });
    });
  }),
  (next) => fs.rm('sub2', { recursive: true }, (err) => (log('rm', err), next())),
  (next) => fs.unlink('link', next),
  (next) => fs.readFile('nope.txt', (err) => (log('readFile error', err.code, err.errno, err.message), next())),
  (next) => fs.mkdir('sub', (err) => (log('mkdir error', err.code), next())),
  (next) => fs.opendir('sub', (err, dir) => dir.read((e, d) => (log('opendir', dir.path, d.name), dir.close(next)))),
  (next) => fs.statfs('.', (err, s) => (log('statfs', s.bavail > 0), next())),
  (next) => {
    // Concurrent reads: whichever finishes first is logged first; replay follows the recording.
    let left = 4;
    for (const name of ['input.txt', 'c.txt', 'sub/b.txt', 'rw.bin']) {
      fs.readFile(name, (err, buf) => (log('race', name, buf.length), --left || next()));
    }
  },
];
const run = (i) => (i < steps.length ? steps[i](() => run(i + 1)) : log('done'));
run(0);
`;
  const files = { 'app.mjs': program, 'input.txt': 'input bytes' };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-callback-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /access ENOENT access nope\.txt/);
  assert.match(rec.stdout, /exists true false/);
  assert.match(rec.stdout, /\ndone\n$/);
  fs.writeFileSync(path.join(dir, 'input.txt'), 'other');
  fs.writeFileSync(path.join(dir, 'nope.txt'), 'now it exists');
  for (const name of ['sub', 'c.txt', 'rw.bin', 'count.txt']) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  assertReplays(dir, rec);
  const kinds = eventsByKind(dir);
  // Composites are one call each: writeFile's own open/write/close and exists' access are Node's.
  assert.equal(kinds['fs.writeFile'], 1);
  assert.equal(kinds['fs.exists'], undefined);
  assert.equal(kinds['fs.access'], 4, 'access, and exists three times through it');
  assert.equal(kinds['fs.open'], 1);
});

test('promises API and FileHandle: the replay answers from stand-in handles', () => {
  const program = `import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { createRequire } from 'node:module';
${COUNTER}
const log = (...a) => console.log(...a);
const required = createRequire(import.meta.url);
log('same object', fs.promises === required('fs/promises'), fsp.readFile === required('fs').promises.readFile);
await fsp.writeFile('p.txt', 'promised ' + count + '\\n');
await fsp.appendFile('p.txt', 'appended\\n');
log('readFile', await fsp.readFile('p.txt', 'utf8'));
const st = await fsp.stat('p.txt');
log('stat', st.isFile(), st.size, st.mtimeMs);
log('lstat', (await fsp.lstat('p.txt', { bigint: true })).size);
await fsp.mkdir('dir/inner', { recursive: true });
const tmp = await fsp.mkdtemp('tmp-');
log('mkdtemp', tmp);
await fsp.rename('p.txt', 'dir/p.txt');
await fsp.copyFile('dir/p.txt', 'dir/q.txt');
await fsp.cp('dir', 'dir2', { recursive: true });
log('readdir', (await fsp.readdir('dir2', { recursive: true })).sort());
log('readdir types', (await fsp.readdir('dir', { withFileTypes: true })).map((d) => [d.name, d.isFile()]).sort());
await fsp.symlink('dir/q.txt', 'q-link');
log('readlink', await fsp.readlink('q-link'), (await fsp.realpath('q-link')).endsWith('q.txt'));
await fsp.access('dir/q.txt');
await fsp.chmod('dir/q.txt', 0o604);
await fsp.utimes('dir/q.txt', 100, 200);
await fsp.truncate('dir/q.txt', 4);
log('after', (await fsp.stat('dir/q.txt')).mtimeMs, await fsp.readFile('dir/q.txt', 'utf8'));
await fsp.rm('dir2', { recursive: true });
await fsp.unlink('q-link');
await fsp.rmdir(tmp);
for await (const entry of await fsp.opendir('dir')) log('opendir', entry.name, entry.isDirectory());
try {
  await fsp.readFile('missing.txt');
} catch (err) {
  log('rejected', err.code, err.syscall, err.path, err instanceof Error);
}

const fh = await fsp.open('handle.bin', 'w+');
log('fd is a number', typeof fh.fd);
log('write', (await fh.write(Buffer.from('ABCDEFGHIJ'))).bytesWritten);
log('write string', (await fh.write('klm', 10)).bytesWritten);
const wv = await fh.writev([Buffer.from('no'), Buffer.from('pq')], 13);
log('writev', wv.bytesWritten, wv.buffers.length);
await fh.sync();
await fh.datasync();
const target = Buffer.alloc(8, '-');
const r = await fh.read(target, 2, 5, 1);
log('read', r.bytesRead, r.buffer === target, target.toString(), Object.getPrototypeOf(r));
const r2 = await fh.read({ position: 0 });
log('read allocated', r2.bytesRead, r2.buffer.length, r2.buffer.subarray(0, r2.bytesRead).toString());
log('stat', (await fh.stat()).size);
await fh.truncate(12);
await fh.chmod(0o600);
await fh.utimes(1, 2);
log('readFile', await fh.readFile({ encoding: 'utf8' }));
await fh.writeFile('rewritten ' + count);
await fh.appendFile('!');
await fh.close();
log('closed fd', fh.fd);

const lines = await fsp.open('lines.txt');
const seen = [];
for await (const line of lines.readLines()) seen.push(line);
log('readLines', seen);
const streamed = await fsp.open('lines.txt');
const chunks = [];
for await (const chunk of streamed.createReadStream({ highWaterMark: 5 })) chunks.push(chunk.toString());
log('createReadStream', chunks);
log('done');
`;
  const files = { 'app.mjs': program, 'lines.txt': 'one\ntwo\nthree\n' };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-promises-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /same object true true/);
  assert.match(rec.stdout, /read 5 true --BCDEF- null/);
  assert.match(rec.stdout, /readLines \[ 'one', 'two', 'three' \]/);
  assert.match(rec.stdout, /closed fd -1/);
  fs.writeFileSync(path.join(dir, 'lines.txt'), 'different\nlines\n');
  for (const name of ['dir', 'handle.bin', 'count.txt']) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  assertReplays(dir, rec);
  const kinds = eventsByKind(dir);
  for (const kind of ['fs.promises.open', 'fs.FileHandle.read', 'fs.FileHandle.write', 'fs.FileHandle.close', 'fs.Dir.read', 'fs.Dir.close']) assert.ok(kinds[kind], `${kind} is recorded`);
});

test('streams: fs.createReadStream and createWriteStream go through the recorded fs.open/read/write/close', () => {
  const program = `import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
${COUNTER}
const chunks = [];
const source = fs.createReadStream('source.txt', { highWaterMark: 16 });
source.on('open', (fd) => console.log('open', typeof fd));
for await (const chunk of source) chunks.push(chunk.toString());
console.log('chunks', chunks.length, JSON.stringify(chunks));
await pipeline(fs.createReadStream('source.txt', { start: 4, end: 40, highWaterMark: 8 }), fs.createWriteStream('copy.txt'));
const out = fs.createWriteStream('log.txt', { flags: 'a' });
for (let i = 0; i < 5; i++) out.write('line ' + i + ' of run ' + count + '\\n');
await new Promise((resolve) => out.end('end\\n', resolve));
console.log('written', out.bytesWritten);
console.log('log', JSON.stringify(fs.readFileSync('log.txt', 'utf8')));
console.log('copy', JSON.stringify(fs.readFileSync('copy.txt', 'utf8')));
const handle = await fsp.open('source.txt');
let viaHandle = '';
for await (const chunk of fs.createReadStream(null, { fd: handle, highWaterMark: 32 })) viaHandle += chunk;
console.log('via FileHandle', viaHandle.length);
try {
  for await (const chunk of fs.createReadStream('missing.txt')) console.log(chunk);
} catch (err) {
  console.log('stream error', err.code);
}
`;
  const files = { 'app.mjs': program, 'source.txt': 'The quick brown fox jumps over the lazy dog, again and again.\n' };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-streams-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /chunks 4 /);
  fs.writeFileSync(path.join(dir, 'source.txt'), 'something else entirely');
  fs.rmSync(path.join(dir, 'log.txt'));
  fs.rmSync(path.join(dir, 'copy.txt'));
  assertReplays(dir, rec);
  // The streams' own calls are the record: no code of the fs boundary is specific to streams.
  const kinds = eventsByKind(dir);
  assert.ok(kinds['fs.open']! >= 4 && kinds['fs.read']! >= 9 && kinds['fs.write']! >= 1 && kinds['fs.close']! >= 3, JSON.stringify(kinds));
  assert.ok(kinds['fs.FileHandle.read']! >= 2, 'a stream over a FileHandle reads through the handle');
});

test('Stats, BigIntStats, StatFs and Dirents are rebuilt with their classes and methods', () => {
  const program = `import * as fs from 'node:fs';
import { inspect } from 'node:util';
${COUNTER}
fs.mkdirSync('d', { recursive: true });
fs.writeFileSync('d/file.txt', 'x'.repeat(count + 1));
fs.symlinkSync('file.txt', 'd/link');
const st = fs.statSync('d/file.txt');
console.log(inspect(st, { breakLength: Infinity }));
console.log(st instanceof fs.Stats, st.isFile(), st.isDirectory(), st.isSymbolicLink(), st.mtime instanceof Date, st.mtime.getTime() === Math.round(st.mtimeMs));
const big = fs.statSync('d', { bigint: true });
console.log(inspect(big, { breakLength: Infinity }));
console.log(big.constructor.name, big.isDirectory(), big.isFile(), big.ctime instanceof Date, typeof big.ctimeNs);
// Read dates are cached on the object as Node does it (enumerable or not, by version).
console.log(inspect(st, { breakLength: Infinity }), inspect(big, { breakLength: Infinity }), Object.keys(big).length);
console.log(fs.lstatSync('d/link').isSymbolicLink(), fs.statSync('d/nope', { throwIfNoEntry: false }));
const sfs = fs.statfsSync('.');
console.log(sfs.constructor.name, Object.keys(sfs).join(','), sfs.ffree);
const list = fs.readdirSync('d', { withFileTypes: true });
console.log(inspect(list, { breakLength: Infinity }));
console.log(list.map((d) => [d instanceof fs.Dirent, d.name, d.isFile(), d.isSymbolicLink(), d.isDirectory(), d.parentPath]));
console.log(inspect(fs.readdirSync('d', { withFileTypes: true, encoding: 'buffer' })[0].name));
`;
  const files = { 'app.mjs': program };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-stats-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /^Stats \{ dev: /m);
  assert.match(rec.stdout, /^true true false false true true$/m);
  assert.match(rec.stdout, /^BigIntStats \{ dev: \d+n/m);
  assert.match(rec.stdout, /^BigIntStats true false true bigint$/m);
  assert.match(rec.stdout, /^StatFs type,bsize,/m);
  fs.rmSync(path.join(dir, 'd'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'd'));
  fs.writeFileSync(path.join(dir, 'd', 'other.txt'), 'other');
  assertReplays(dir, rec);
});

test('errors: ENOENT, EEXIST and rejected arguments replay with code, errno, syscall and path, even once the file exists', () => {
  const program = `import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
${COUNTER}
const show = (how, err) => console.log(how, err.name, err.code, err.errno, err.syscall, err.path, err.message, err instanceof Error);
try { fs.readFileSync('missing.txt'); } catch (err) { show('sync', err); }
try { fs.mkdirSync('.'); } catch (err) { show('sync mkdir', err); }
try { fs.readFileSync(42n); } catch (err) { show('sync invalid', err); }
try { fs.readFile(42n, () => {}); } catch (err) { show('callback invalid', err); }
try { fs.stat({}, () => {}); } catch (err) { show('callback invalid', err); }
try { fs.readFile('missing.txt'); } catch (err) { show('no callback', err); }
fs.exists(undefined, (yes) => console.log('exists undefined', yes));
await new Promise((resolve) => fs.readFile('missing.txt', (err) => (show('callback', err), resolve())));
await new Promise((resolve) => fs.readFile('.', (err) => (show('callback EISDIR', err), resolve())));
await fsp.open('missing.txt').catch((err) => show('promise', err));
await fsp.readFile(42n).catch((err) => show('promise invalid', err));
await fsp.rename('missing.txt', 'elsewhere.txt').catch((err) => console.log('rename', err.code, err.path, err.dest));
`;
  const files = { 'app.mjs': program };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-errors-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /^sync Error ENOENT -2 open missing\.txt ENOENT: no such file or directory, open 'missing\.txt' true$/m);
  assert.match(rec.stdout, /^callback invalid TypeError ERR_INVALID_ARG_TYPE /m);
  assert.match(rec.stdout, /^exists undefined false$/m);
  assert.match(rec.stdout, /^no callback TypeError ERR_INVALID_ARG_TYPE /m);
  assert.match(rec.stdout, /^rename ENOENT missing\.txt elsewhere\.txt$/m);
  // Now the files exist: a live run would succeed, the replay must still fail as recorded.
  fs.writeFileSync(path.join(dir, 'missing.txt'), 'here now');
  assertReplays(dir, rec);
});

test('reads into the caller\'s buffers: bytes land at the recorded offsets, the rest of the buffer is untouched', () => {
  const program = `import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { promisify } from 'node:util';
${COUNTER}
const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const fd = fs.openSync('data.bin', 'r');
const a = Buffer.alloc(10, 0xee);
console.log('readSync', fs.readSync(fd, a, 3, 4, 2), hex(a));
const b = new Uint8Array(8).fill(0xaa);
console.log('readSync options', fs.readSync(fd, b, { offset: 1, length: 3, position: 5 }), hex(b));
const [c1, c2] = [Buffer.alloc(3), Buffer.alloc(5, 0x11)];
console.log('readvSync', fs.readvSync(fd, [c1, c2], 0), hex(c1), hex(c2));
await new Promise((resolve) => {
  const view = new DataView(new ArrayBuffer(12), 2, 8);
  fs.read(fd, view, 0, 6, 1, (err, n, buf) => (console.log('read', err, n, buf === view, hex(view)), resolve()));
});
await new Promise((resolve) => fs.read(fd, (err, n, buf) => (console.log('read allocated', n, buf.length, hex(buf.subarray(0, n))), resolve())));
await new Promise((resolve) => fs.read(fd, { buffer: Buffer.alloc(4), position: 3 }, (err, n, buf) => (console.log('read params', n, hex(buf)), resolve())));
await new Promise((resolve) => { const bufs = [Buffer.alloc(2), Buffer.alloc(2)]; fs.readv(fd, bufs, 6, (err, n, out) => (console.log('readv', n, out === bufs, bufs.map(hex)), resolve())); });
const { bytesRead, buffer } = await promisify(fs.read)(fd, Buffer.alloc(4), 0, 4, 8);
console.log('promisified read', bytesRead, hex(buffer));
fs.closeSync(fd);
const fh = await fsp.open('data.bin');
const d = Buffer.alloc(6, 0x77);
const r = await fh.read(d, { offset: 2, length: 3, position: 10 });
console.log('FileHandle.read', r.bytesRead, r.buffer === d, hex(d));
const v = [Buffer.alloc(3), Buffer.alloc(3)];
const rv = await fh.readv(v, 0);
console.log('FileHandle.readv', rv.bytesRead, rv.buffers === v, v.map(hex));
await fh.close();
`;
  const files = { 'app.mjs': program, 'data.bin': '0123456789ABCDEF' };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-buffers-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /^readSync 4 eeeeee32333435eeeeee$/m);
  assert.match(rec.stdout, /^readSync options 3 aa353637aaaaaaaa$/m);
  assert.match(rec.stdout, /^FileHandle\.read 3 true 777741424377$/m);
  fs.writeFileSync(path.join(dir, 'data.bin'), Buffer.alloc(16, 0x42));
  assertReplays(dir, rec);
});

test('a program changed to read another file diverges at fs.readFileSync, naming the line', () => {
  const dir = workdir('retrace-fs-diverge-');
  writeFiles(dir, {
    'app.js': `const fs = require('node:fs');
console.log('start', Math.random());
const text = fs.readFileSync('a.txt', 'utf8');
console.log(text);
`,
    'a.txt': 'contents of a',
    'b.txt': 'contents of b',
  });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  const app = path.join(dir, 'app.js');
  fs.writeFileSync(app, fs.readFileSync(app, 'utf8').replace("'a.txt'", "'b.txt'"));
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  const lines = rep.stderr.split('\n');
  const report = lines.slice(lines.findIndex((l) => l.startsWith('retrace: replay diverged')));
  assert.match(report[0]!, /^retrace: replay diverged: event \d+: the recording has fs\.readFileSync\('a\.txt', 'utf8'\) → 'contents of a'/);
  assert.match(report[1]!, /the program attempted fs\.readFileSync\('b\.txt', 'utf8'\)/);
  assert.match(report[2]!, /at app\.js:3:\d+$/);
  assert.match(rep.stdout, /^start 0\.\d+\n$/, 'output up to the divergence is replayed');
});

test('loading modules (CommonJS, ES modules, JSON, dynamic import) is not recorded as fs events', () => {
  const files = {
    'app.mjs': `import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { esm } from './lib/esm.mjs';
import cjs from './lib/cjs.cjs';
const require = createRequire(import.meta.url);
const data = require('./lib/data.json');
const again = require('./lib/cjs.cjs');
const { later } = await import('./lib/later.mjs');
console.log(esm, cjs.name, data.value, again === cjs, later, require.resolve('./lib/data.json').endsWith('data.json'));
console.log(fs.readFileSync('input.txt', 'utf8'), Math.random());
`,
    'main.cjs': `const fs = require('node:fs');
const lib = require('./lib/cjs.cjs');
const data = require('./lib/data.json');
import('./lib/later.mjs').then(({ later }) => {
  console.log(lib.name, data.value, later, fs.readFileSync('input.txt', 'utf8'), Math.random());
});
`,
    'lib/esm.mjs': `import { helper } from './helper.mjs';\nexport const esm = 'esm:' + helper;\n`,
    'lib/helper.mjs': `export const helper = 'helper';\n`,
    'lib/cjs.cjs': `module.exports = { name: 'cjs:' + require('./nested.cjs') };\n`,
    'lib/nested.cjs': `module.exports = 'nested';\n`,
    'lib/data.json': `{ "value": 42 }`,
    'lib/later.mjs': `export const later = 'later';\n`,
    'input.txt': 'the only file the program reads',
  };
  for (const main of ['app.mjs', 'main.cjs']) {
    const dir = workdir('retrace-fs-modules-');
    writeFiles(dir, files);
    const rec = recordApp(dir, main);
    assert.match(rec.stdout, /the only file the program reads/);
    assert.deepEqual(fsKinds(eventsByKind(dir)), ['fs.readFileSync'], `${main}: only the program's own read is recorded`);
    assert.equal(eventsByKind(dir)['fs.readFileSync'], 1);
    fs.writeFileSync(path.join(dir, 'input.txt'), 'changed');
    assertReplays(dir, rec);
  }
});

test('the program\'s own stdout and stderr writes through fs run live and unrecorded', () => {
  const files = {
    'app.mjs': `import * as fs from 'node:fs';
${COUNTER}
fs.writeSync(1, 'sync to stdout ' + count + '\\n');
fs.writeSync(2, 'sync to stderr\\n');
fs.appendFileSync(1, 'appendFile to fd 1\\n');
await new Promise((resolve) => fs.write(1, 'callback to stdout\\n', () => resolve()));
await new Promise((resolve) => fs.writeFile(1, 'writeFile callback to fd 1\\n', () => resolve()));
console.log('random after the callbacks', Math.random());
`,
  };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-stdio-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /^sync to stdout 0\nappendFile to fd 1\ncallback to stdout\nwriteFile callback to fd 1\n/m);
  const rep = assertReplays(dir, rec);
  assert.match(rep.stderr, /sync to stderr/);
  const kinds = eventsByKind(dir);
  assert.equal(kinds['fs.writeSync'], undefined);
  assert.equal(kinds['fs.writeFileSync'], 1, 'only count.txt');
  assert.equal(kinds['fs.appendFileSync'], undefined);
  assert.equal(kinds['fs.write'], 1, 'the callback write records its turn only');
});

test('watchers: fs.watch, fs.watchFile and fs.promises.watch events are deliveries', () => {
  const program = `import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
${COUNTER}
fs.mkdirSync('watched', { recursive: true });
const events = [];
const watcher = fs.watch('watched', (type, name) => events.push(type + ' ' + name));
fs.writeFileSync('watched/file-' + count + '.txt', 'x');
await new Promise((resolve) => setTimeout(resolve, 200));
watcher.close();
await new Promise((resolve) => watcher.on('close', resolve));
console.log('watch', [...new Set(events)].sort());

fs.writeFileSync('polled.txt', 'before');
const changed = new Promise((resolve) => fs.watchFile('polled.txt', { interval: 20 }, (curr, prev) => {
  fs.unwatchFile('polled.txt');
  resolve([curr.size, prev.size, curr.isFile(), curr.mtimeMs >= prev.mtimeMs]);
}));
setTimeout(() => fs.writeFileSync('polled.txt', 'after the change ' + count), 100);
console.log('watchFile', await changed);

const ac = new AbortController();
const seen = [];
setTimeout(() => fs.writeFileSync('watched/async.txt', 'y' + count), 50);
setTimeout(() => ac.abort(), 300);
try {
  for await (const event of fsp.watch('watched', { signal: ac.signal })) seen.push(event.filename);
} catch (err) {
  console.log('promises watch', err.name, [...new Set(seen)]);
}
`;
  const files = { 'app.mjs': program };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-watch-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /^watch \[ 'change file-0\.txt', 'rename file-0\.txt' \]$/m);
  assert.match(rec.stdout, /^watchFile \[ 18, 6, true, true \]$/m);
  assert.match(rec.stdout, /^promises watch AbortError \[ 'async\.txt' \]$/m);
  fs.rmSync(path.join(dir, 'watched'), { recursive: true });
  fs.rmSync(path.join(dir, 'polled.txt'));
  assertReplays(dir, rec);
});

test('less common APIs: glob, openAsBlob, temporary directories, FileHandle write and web streams, Dir callbacks, URL paths', () => {
  const program = `import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
${COUNTER}
const log = (...a) => console.log(...a);
fs.rmSync('g', { recursive: true, force: true });
fs.mkdirSync('g/sub', { recursive: true });
for (const name of ['a.txt', 'b.md', 'sub/c.txt']) fs.writeFileSync('g/' + name, name + ' ' + count);
log('url read', fs.readFileSync(new URL('./g/a.txt', import.meta.url), 'utf8'));
log('globSync', fs.globSync('g/**/*.txt').sort());
log('glob types', fs.globSync('g/*', { withFileTypes: true }).map((d) => d.name + ':' + d.isDirectory()).sort());
await new Promise((resolve) => fs.glob('g/**/*.md', (err, found) => (log('glob', err, found), resolve())));
const found = [];
for await (const file of fsp.glob('g/**/*.txt')) found.push(file);
log('promises glob', found.sort());
const blob = await fs.openAsBlob('g/a.txt', { type: 'text/plain' });
log('blob', blob.type, blob.size, await blob.text());
if (typeof fs.mkdtempDisposableSync === 'function') {
  const d = fs.mkdtempDisposableSync('disp-');
  log('disposable', d.path.startsWith('disp-'), fs.existsSync(d.path));
  d.remove();
  const p = await fsp.mkdtempDisposable('adisp-');
  log('async disposable', fs.existsSync(p.path));
  await p[Symbol.asyncDispose]();
  log('removed', fs.existsSync(d.path), fs.existsSync(p.path));
}
const out = await fsp.open('g/out.txt', 'w');
const ws = out.createWriteStream();
ws.write('via a FileHandle write stream ' + count + '\\n');
await new Promise((resolve) => ws.end('end\\n', resolve));
log('write stream', JSON.stringify(fs.readFileSync('g/out.txt', 'utf8')), out.fd);
const rh = await fsp.open('g/out.txt');
const reader = rh.readableWebStream().getReader();
let text = '';
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  text += Buffer.from(value).toString();
}
await rh.close();
log('web stream', JSON.stringify(text));
const dir = await fsp.opendir('g');
await new Promise((resolve) => dir.read((err, entry) => (log('Dir.read callback', err, typeof entry.name), resolve())));
await dir[Symbol.asyncDispose]();
const names = [];
for await (const entry of fs.opendirSync('g/sub')) names.push(entry.name);
log('Dir iterator', names);
await new Promise((resolve) => fs.realpath.native('g/sub/../a.txt', (err, real) => (log('realpath.native', real.endsWith('a.txt')), resolve())));
fs.close(fs.openSync('g/a.txt'));
await new Promise((resolve) => fs.rm('g/sub', { recursive: true }, (err) => (log('rm', err, fs.existsSync('g/sub')), resolve())));
`;
  const files = { 'app.mjs': program };
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-misc-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /^url read a\.txt 0$/m);
  assert.match(rec.stdout, /^globSync \[ 'g\/a\.txt', 'g\/sub\/c\.txt' \]$/m);
  assert.match(rec.stdout, /^blob text\/plain 7 a\.txt 0$/m);
  assert.match(rec.stdout, /^write stream "via a FileHandle write stream 0\\nend\\n" -1$/m);
  assert.match(rec.stdout, /^rm null false$/m);
  fs.rmSync(path.join(dir, 'g'), { recursive: true });
  assertReplays(dir, rec);
});

test('what Node completes within the turn (a Dir\'s buffered entries, closing what is closed) is delivered within the turn', () => {
  const program = `import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
${COUNTER}
const log = [];
const dir = fs.opendirSync('d');
log.push('first:' + (await dir.read()).isFile());
dir.read((err, entry) => log.push('callback'));
process.nextTick(() => log.push('tick'));
Promise.resolve().then(() => log.push('microtask'));
const read = dir.read().then(() => log.push('promise'));
queueMicrotask(() => log.push('microtask 2'));
await read;
await new Promise((resolve) => setImmediate(resolve));
dir.closeSync();
for await (const entry of await fsp.opendir('d')) {
  log.push('entry');
  process.nextTick(() => log.push('t'));
  Promise.resolve().then(() => log.push('p'));
}
const handle = await fsp.open('d/f1');
await handle.close();
handle.close().then(() => log.push('closed again'));
Promise.resolve().then(() => log.push('after close'));
await new Promise((resolve) => setImmediate(resolve));
console.log(log.join(' '));
`;
  const files: Record<string, string> = { 'app.mjs': program };
  for (let i = 1; i <= 6; i++) files[`d/f${i}`] = String(i);
  assertRunsDiffer(files);
  const dir = workdir('retrace-fs-turn-');
  writeFiles(dir, files);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /first:true microtask microtask 2 promise callback tick entry/);
  fs.rmSync(path.join(dir, 'd'), { recursive: true });
  assertReplays(dir, rec);
});
