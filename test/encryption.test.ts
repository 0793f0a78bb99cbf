// Encryption at rest: a recording made with --encrypt-to holds nothing readable without the
// private key, every chunk written before a crash stays decryptable, and with the key every
// reading command works as on a plain recording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { cli, describeRun, replay, retrace, workdir, writeFiles } from './helpers.js';
import { chunksOf } from './trace-bytes.js';

const SECRET = `TOPSECRET-${process.pid}-${Date.now()}`;

function keygen(dir: string, name: string): string {
  const r = retrace(dir, ['keygen', '--out', name]);
  assert.equal(r.status, 0, describeRun(r));
  assert.equal((fs.statSync(path.join(dir, name)).mode & 0o777).toString(8), '600');
  const recipient = /^Public key: (age1[a-z0-9]+)$/m.exec(r.stderr)?.[1];
  assert.ok(recipient, r.stderr);
  assert.match(fs.readFileSync(path.join(dir, name), 'utf8'), new RegExp(`^# created: .*\\n# public key: ${recipient}\\nAGE-SECRET-KEY-1[A-Z0-9]+\\n$`));
  return recipient;
}

/** Every stored byte of a trace, and each chunk inflated where it would inflate. */
function everyByte(file: string): string {
  const data = fs.readFileSync(file);
  const parts = [data];
  for (const c of chunksOf(data)) {
    try {
      parts.push(zlib.inflateRawSync(c.stored));
    } catch {
      // sealed bytes do not inflate
    }
  }
  return Buffer.concat(parts).toString('latin1');
}

test('an encrypted recording cannot be read without its key, and replays with it', () => {
  const dir = workdir('retrace-enc-');
  const recipient = keygen(dir, 'key.txt');
  keygen(dir, 'other.txt');
  writeFiles(dir, {
    'secret.txt': SECRET,
    'app.mjs': `
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
const s = fs.readFileSync('secret.txt', 'utf8');
console.log('read', s.length, Math.random());
console.log('key in my environment:', Object.keys(process.env).filter((k) => /RECORDING_KEY/.test(k)).join(',') || 'none');
console.log('child', execFileSync(process.execPath, ['child.mjs'], { encoding: 'utf8' }).trim());
`,
    'child.mjs': `import * as fs from 'node:fs'; console.log(fs.readFileSync('secret.txt', 'utf8').length, Math.random());`,
  });
  const rec = retrace(dir, ['record', '--encrypt-to', recipient, '--', 'node', 'app.mjs', `--token=${SECRET}`]);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /key in my environment: none/);
  const files = fs.readdirSync(path.join(dir, 'recording')).sort();
  assert.deepEqual(files, ['p0.rtrc', 'p1.rtrc']);
  for (const f of files) {
    const bytes = everyByte(path.join(dir, 'recording', f));
    assert.ok(!bytes.includes(SECRET), `${f}: the secret is not stored in the clear`);
    assert.ok(!bytes.includes('app.mjs') && !bytes.includes(dir), `${f}: nor the command line or the folder (the header is sealed too)`);
    assert.ok(bytes.includes('-----BEGIN AGE ENCRYPTED FILE-----') || bytes.includes('age-encryption.org/v1') || /"age":"/.test(bytes), `${f}: the key chunk holds the age file`);
  }

  // Without the key: one line, for every reading command.
  for (const args of [['info'], ['show', '--no-pager'], ['show', '--event', '0'], ['replay'], ['print', '--at', 'app.mjs:4', '--expr', 's']]) {
    const r = retrace(dir, args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${describeRun(r)}`);
    assert.doesNotMatch(r.stdout, new RegExp(SECRET));
    assert.equal(r.stderr, `retrace: ${path.join('recording', 'p0.rtrc')} is encrypted: give its private key with --identity FILE (or RETRACE_IDENTITY)\n`, args.join(' '));
  }
  const wrong = retrace(dir, ['info', '--identity', 'other.txt']);
  assert.equal(wrong.status, 2);
  assert.equal(wrong.stderr, 'retrace: the recording cannot be decrypted with other.txt: it was encrypted to another recipient\n');

  // With the key, as on a plain recording.
  const info = retrace(dir, ['info', '--identity', 'key.txt']);
  assert.equal(info.status, 0, describeRun(info));
  assert.match(info.stdout, /process 0: node .*app\.mjs --token=TOPSECRET/);
  assert.match(info.stdout, /process 1 \(child of 0\)/);
  const show = retrace(dir, ['show', '--json', '--no-pager', '--all'], { env: { RETRACE_IDENTITY: 'key.txt' } });
  assert.equal(show.status, 0, describeRun(show));
  assert.ok(show.stdout.includes(SECRET), 'the decrypted recording holds what the program read');
  const rep = replay(dir, ['--identity', 'key.txt']);
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
  const child = replay(dir, ['--process', '1'], { env: { RETRACE_IDENTITY: path.join(dir, 'key.txt') } });
  assert.equal(child.status, 0, describeRun(child));
  assert.equal(`child ${child.stdout.trim()}`, /^child .*$/m.exec(rec.stdout)![0]);
  const printed = retrace(dir, ['print', '--identity', 'key.txt', '--at', 'app.mjs:5', '--expr', 's.length']);
  assert.equal(printed.status, 0, describeRun(printed));
  assert.match(printed.stdout, new RegExp(`${SECRET.length}`));
});

test('every chunk an encrypted recording wrote before a kill -9 decrypts', async () => {
  const dir = workdir('retrace-enc-kill-');
  const recipient = keygen(dir, 'key.txt');
  writeFiles(dir, {
    'app.mjs': `
let n = 0;
setInterval(() => { for (let i = 0; i < 200; i++) n += Math.random(); if (n > 2000) console.log('ticking'); }, 5);
console.log('started');
`,
  });
  const child = spawn(process.execPath, [cli, 'record', '--encrypt-to', recipient, '--', 'node', 'app.mjs'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (out.includes('ticking')) {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
  // Several 200 ms flushes later, kill the recorded program itself, not the CLI: no exit handler runs, nothing more is flushed.
  await new Promise((resolve) => setTimeout(resolve, 800));
  const pid = Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  process.kill(pid, 'SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  const info = retrace(dir, ['info', '--identity', 'key.txt']);
  assert.equal(info.status, 0, describeRun(info));
  assert.match(info.stdout, /truncated \(the process stopped before the recording was closed\)/);
  const events = Number(/(\d+) events/.exec(info.stdout)![1]);
  assert.ok(events > 1000, `the events of every chunk written are read back (${events})`);
  assert.doesNotMatch(info.stdout, /problem:/, 'no chunk fails to decrypt');
  const rep = replay(dir, ['--identity', 'key.txt']);
  assert.equal(rep.status, 87, describeRun(rep));
  assert.match(rep.stderr, /recording ends here \(truncated\)/);
});

test('record --encrypt-to with something that is not a recipient is one line, and nothing runs', () => {
  const dir = workdir('retrace-enc-bad-');
  writeFiles(dir, { 'app.mjs': `console.log('ran')` });
  const r = retrace(dir, ['record', '--encrypt-to', 'age1notakey', '--', 'node', 'app.mjs']);
  assert.equal(r.status, 2, describeRun(r));
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^retrace: --encrypt-to: "age1notakey" is not an age recipient \(.*\)\n$/);
});

test('a long encrypted recording, sealed by the trace writer\'s worker thread, reads back whole and replays', () => {
  const dir = workdir('retrace-enc-long-');
  const recipient = keygen(dir, 'key.txt');
  writeFiles(dir, { 'app.mjs': `let s = 0; for (let i = 0; i < 400000; i++) s += Math.random(); console.log('sum', s);` });
  const rec = retrace(dir, ['record', '--encrypt-to', recipient, '--', 'node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const chunks = chunksOf(fs.readFileSync(path.join(dir, 'recording', 'p0.rtrc')));
  assert.ok(chunks.filter((c) => c.type === 2).length > 8, 'enough event chunks for the worker thread to take over');
  assert.ok(chunks.slice(1).every((c) => (c.codec & 2) === 2), 'every chunk after the key chunk is sealed');
  const info = retrace(dir, ['info', '--identity', 'key.txt', '--json']);
  assert.equal(info.status, 0, describeRun(info));
  assert.equal((JSON.parse(info.stdout) as { eventsByKind: Record<string, number> }[])[0]!.eventsByKind['random.Math.random'], 400000);
  const rep = replay(dir, ['--identity', 'key.txt']);
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
});

test('retrace mcp --identity reads the encrypted recordings under its folder; without it the tool says what is needed', async () => {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const dir = workdir('retrace-enc-mcp-');
  const recipient = keygen(dir, 'key.txt');
  writeFiles(dir, { 'app.mjs': `console.log('sum', 40 + 2, Math.random());` });
  const rec = retrace(dir, ['record', '--encrypt-to', recipient, '--out', path.join('runs', 'one'), '--', 'node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const overview = async (extra: string[]) => {
    const client = new Client({ name: 'retrace-test', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', 'runs', ...extra], cwd: dir, stderr: 'pipe' }));
    try {
      const r = (await client.callTool({ name: 'overview', arguments: {} })) as { isError?: boolean; content: { text: string }[] };
      return { isError: r.isError === true, text: r.content.map((c) => c.text).join('\n') };
    } finally {
      await client.close();
    }
  };
  const locked = await overview([]);
  assert.equal(locked.isError, true, locked.text);
  assert.match(locked.text, /is encrypted: give its private key with --identity FILE/);
  const open = await overview(['--identity', 'key.txt']);
  assert.equal(open.isError, false, open.text);
  assert.match(open.text, /app\.mjs/);
});
