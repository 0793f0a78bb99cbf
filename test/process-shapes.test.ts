// Process shapes real programs come in: inline code with arguments, code on stdin, a main module
// named without its extension or reached through a bin symlink, streams opened on the stdio fds,
// SIGINT sent to `retrace record` alone, and native work that completes on a thread Node does not list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, describeRun, record, replay, repoRoot, runPlain, workdir, writeFiles } from './helpers.js';

test('node -e and node -p with arguments, and a script read from stdin with arguments, replay', () => {
  const dir = workdir();
  const cases: { command: string[]; input?: string }[] = [
    { command: ['node', '-e', 'console.log(process.argv.slice(1), Math.random())', 'first', '--second'] },
    { command: ['node', '--print', 'process.argv[1] + Date.now()', 'arg'] },
    { command: ['node', '-', 'from-stdin'], input: 'console.log("stdin script", process.argv.slice(2), Math.random())' },
  ];
  for (const c of cases) {
    const rec = record(dir, c.command, { input: c.input });
    assert.equal(rec.status, 0, describeRun(rec));
    // The program's code is in the recording (execArgv, or stdin): replay runs it only when trusted.
    const refused = replay(dir, [], { offline: true });
    assert.equal(refused.status, 2, describeRun(refused));
    assert.match(refused.stderr, /which replay does not do for a recording unless you trust it: add --trust if you do/);
    for (let i = 0; i < 2; i++) {
      const rep = replay(dir, ['--trust'], { offline: true });
      assert.equal(rep.status, 0, `${c.command.join(' ')}: ${describeRun(rep)}`);
      assert.equal(rep.stdout, rec.stdout);
    }
  }
});

test('a main module named without its extension, and one run through a bin symlink, replay', () => {
  const dir = workdir();
  writeFiles(dir, {
    'lib/cli/bin.js': '#!/usr/bin/env node\nconsole.log("bin", process.argv.slice(2), Math.random());\n',
  });
  fs.chmodSync(path.join(dir, 'lib/cli/bin.js'), 0o755);
  fs.mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
  fs.symlinkSync('../../lib/cli/bin.js', path.join(dir, 'node_modules/.bin/tool'));
  for (const command of [['node', 'lib/cli/bin', 'x'], ['node_modules/.bin/tool', 'y']]) {
    const rec = record(dir, command);
    assert.equal(rec.status, 0, describeRun(rec));
    const rep = replay(dir, [], { offline: true });
    assert.equal(rep.status, 0, `${command.join(' ')}: ${describeRun(rep)}`);
    assert.equal(rep.stdout, rec.stdout);
  }
});

test('a tty.WriteStream the program opens on its piped stdin works in replay as it did in record', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      const tty = require('node:tty');
      let how;
      try { const s = new tty.WriteStream(0); how = 'opened ' + typeof s.write; } catch (e) { how = 'threw ' + e.code; }
      console.log(how, Math.random());
    `,
  });
  const rec = record(dir, ['node', 'app.js'], { input: 'piped' });
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /^opened function/);
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
});

test('SIGINT sent to the retrace record process alone reaches the program, and replays', async () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      process.on('SIGINT', () => { console.log('interrupted at', Date.now() > 0); process.exit(5); });
      setInterval(() => {}, 1000);
      console.log('ready');
    `,
  });
  // Its own process group, as under a supervisor: nothing but the signal to `retrace record` reaches the program.
  const child = spawn(process.execPath, [cli, 'record', '--force', '--out', 'recording', '--', process.execPath, 'app.js'], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  await new Promise<void>((resolve) => child.stdout.on('data', () => stdout.includes('ready') && resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  clearTimeout(timer);
  assert.equal(status, 5, `record exited ${status}: ${stdout}`);
  assert.equal(stdout, 'ready\ninterrupted at true\n');
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 5, describeRun(rep));
  assert.equal(rep.stdout, stdout);
});

test("native bcrypt's hash, completed on a thread Node does not list, replays", () => {
  const dir = workdir();
  const bcrypt = path.join(repoRoot, 'node_modules', 'bcrypt');
  writeFiles(dir, {
    'app.js': `
      const bcrypt = require(${JSON.stringify(bcrypt)});
      const started = Date.now();
      bcrypt.hash('secret', 8).then(async (hash) => {
        console.log('hashed', hash.length, Date.now() >= started, Math.random());
        console.log('matches', await bcrypt.compare('secret', hash));
        bcrypt.genSalt(4, (err, salt) => console.log('salt', err, salt.length, Math.random()));
      });
    `,
  });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /hashed 60 true/);
  for (let i = 0; i < 2; i++) {
    const rep = replay(dir, [], { offline: true });
    assert.equal(rep.status, 0, describeRun(rep));
    assert.equal(rep.stdout, rec.stdout);
  }
  // The recorded values are what replay gives: two unrecorded runs differ.
  assert.notEqual(runPlain(dir, ['app.js']).stdout, runPlain(dir, ['app.js']).stdout);
});
