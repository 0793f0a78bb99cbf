import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describeRun, record, replay, repoRoot, retrace, runPlain, workdir, writeFiles } from './helpers.js';

const withoutOurLines = (s: string) => s.replace(/^retrace:.*\n/gm, '');

test('stdin is replayed in its recorded turns, whatever the replay is given', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      let total = 0;
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (chunk) => { total += chunk.length; console.log('chunk', JSON.stringify(chunk), Math.random()); });
      process.stdin.on('end', () => console.log('end', total, process.stdin.isTTY));
    `,
  });
  const rec = record(dir, ['node', 'app.js'], { input: 'hello\nworld\n' });
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /chunk "hello\\nworld\\n"/);
  const rep = replay(dir, [], { input: 'something else entirely', offline: true });
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
});

test('signals delivered to handlers arrive at the same point', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      let ticks = 0;
      process.on('SIGUSR2', () => console.log('signal after', ticks, 'ticks', Math.random()));
      const t = setInterval(() => {
        ticks++;
        if (ticks === 3) process.kill(process.pid, 'SIGUSR2');
        if (ticks === 8) clearInterval(t);
      }, 2);
    `,
  });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stdout, /signal after \d+ ticks/);
  for (let i = 0; i < 3; i++) {
    const rep = replay(dir);
    assert.equal(rep.stdout, rec.stdout, describeRun(rep));
  }
});

test('an uncaught exception ends the replay as it ended the recording', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': `setTimeout(() => { console.log('about to fail', Math.random()); throw new Error('boom'); }, 3);` });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 1);
  const rep = replay(dir);
  assert.equal(rep.status, 1, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
  assert.match(withoutOurLines(rep.stderr), /Error: boom/);
});

test('beforeExit handlers and process.exit replay in order', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      let rounds = 0;
      process.on('beforeExit', () => {
        rounds++;
        console.log('beforeExit', rounds, Date.now());
        if (rounds < 3) setTimeout(() => console.log('more work', Math.random()), 1);
        else process.exit(4);
      });
      process.on('exit', (code) => console.log('exit', code));
    `,
  });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 4, describeRun(rec));
  const rep = replay(dir);
  assert.equal(rep.status, 4, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
});

test('npm start: the package manager is passed through and the program is the root process', () => {
  const dir = workdir();
  writeFiles(dir, {
    'package.json': JSON.stringify({ name: 'app', private: true, scripts: { start: 'node server.js' } }),
    'server.js': `console.log('started', Math.random(), process.argv.length);`,
  });
  const rec = record(dir, ['npm', 'start', '--silent']);
  assert.equal(rec.status, 0, describeRun(rec));
  const info = JSON.parse(retrace(dir, ['info', '--json']).stdout) as { command: string }[];
  assert.equal(info.length, 1, JSON.stringify(info));
  assert.match(info[0]!.command, /server\.js/);
  const rep = replay(dir);
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
});

test('--inspect passes through to Node.js and replay still matches', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': `console.log(Math.random())` });
  const rec = record(dir, ['node', 'app.js']);
  const rep = replay(dir, ['--inspect=127.0.0.1:0']);
  assert.equal(rep.status, 0, describeRun(rep));
  assert.match(rep.stderr, /Debugger listening on ws:\/\/127\.0\.0\.1:\d+\//);
  assert.equal(rep.stdout, rec.stdout);
});

test('unrecorded runs of these programs really differ', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': `console.log(Math.random(), Date.now(), process.pid)` });
  assert.notEqual(runPlain(dir, ['app.js']).stdout, runPlain(dir, ['app.js']).stdout);
});

test('npx tsx app.ts: the TypeScript loader is tooling, the program is recorded and replays', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.ts': `enum Coin { Heads = 'heads', Tails = 'tails' }
class Thrower { constructor(private readonly bias: number) {} throw(): Coin { return Math.random() < this.bias ? Coin.Heads : Coin.Tails; } }
const t = new Thrower(0.5);
console.log([1, 2, 3, 4, 5, 6].map(() => t.throw()).join(' '), Date.now());
`,
  });
  const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');
  const rec = record(dir, [tsx, 'app.ts']);
  assert.equal(rec.status, 0, describeRun(rec));
  const info = JSON.parse(retrace(dir, ['info', '--json']).stdout) as { command: string; eventsByKind: Record<string, number> }[];
  assert.equal(info.length, 1, 'the tsx launcher is passed through');
  assert.equal(info[0]!.eventsByKind['random.Math.random'], 6);
  for (let i = 0; i < 2; i++) {
    const rep = replay(dir, [], { offline: true });
    assert.equal(rep.status, 0, describeRun(rep));
    assert.equal(rep.stdout, rec.stdout);
  }
});
