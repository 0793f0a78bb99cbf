import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, describeRun, record, replay, retrace, workdir, writeFiles } from './helpers.js';

const oneLineError = (r: { status: number | null; stderr: string }, pattern: RegExp) => {
  assert.notEqual(r.status, 0, 'fails');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^retrace: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
};

test('bad input gets a one-line error and a non-zero exit', () => {
  const dir = workdir();
  oneLineError(replay(dir, ['missing']), /no recording at missing/);
  oneLineError(retrace(dir, ['info', 'missing']), /no recording/);
  fs.mkdirSync(path.join(dir, 'emptydir'));
  oneLineError(replay(dir, ['emptydir']), /holds no recording/);
  fs.writeFileSync(path.join(dir, 'p0.rtrc'), '');
  oneLineError(replay(dir, ['p0.rtrc']), /is empty/);
  fs.writeFileSync(path.join(dir, 'p0.rtrc'), 'not a trace at all');
  oneLineError(replay(dir, ['p0.rtrc']), /not a retrace recording/);
  oneLineError(retrace(dir, ['record']), /needs a command/);
  oneLineError(retrace(dir, ['record', '--', 'no-such-command-xyz']), /command not found: no-such-command-xyz/);
  oneLineError(retrace(dir, ['replay', '--process', 'x']), /--process takes a whole number/);
  oneLineError(retrace(dir, ['frobnicate']), /unknown command "frobnicate"/);
  oneLineError(retrace(dir, ['replay', '--bogus']), /unknown option for replay: --bogus/);
});

test('an existing recording is not overwritten without --force', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': 'console.log(Math.random())' });
  assert.equal(record(dir, ['node', 'app.js']).status, 0);
  const again = retrace(dir, ['record', '--', 'node', 'app.js']);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already holds a recording; use --force/);
});

test('--out refuses a folder holding anything but a recording, and a file, in one line', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': 'console.log(Math.random())', 'src/index.js': 'export {};\n', 'notes.txt': 'mine' });
  for (const force of [[], ['--force']]) {
    oneLineError(retrace(dir, ['record', '--out', 'src', ...force, '--', 'node', 'app.js']), /^retrace: src holds files that are not a recording \(index\.js\): record into a new or empty folder, e\.g\. --out recording$/);
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, 'src')), ['index.js'], 'nothing written or deleted there');
  oneLineError(retrace(dir, ['record', '--out', '.', '--', 'node', 'app.js']), /^retrace: \. holds files that are not a recording \((app\.js|notes\.txt|src), .*\)/);
  oneLineError(retrace(dir, ['record', '--out', 'notes.txt', '--', 'node', 'app.js']), /^retrace: cannot record to notes\.txt: a file of that name is in the way$/);
  assert.equal(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'mine');
  // An empty folder, and one holding a recording (with --force), are recorded into.
  fs.mkdirSync(path.join(dir, 'empty'));
  assert.equal(retrace(dir, ['record', '--out', 'empty', '--', 'node', 'app.js']).status, 0);
  assert.equal(retrace(dir, ['record', '--out', 'empty', '--force', '--', 'node', 'app.js']).status, 0);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'empty')), ['p0.rtrc']);
});

test('info describes processes, commands, duration and events by kind', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': 'console.log(Math.random(), Math.random(), Date.now()); setTimeout(() => {}, 5);' });
  assert.equal(record(dir, ['node', 'app.js', 'arg1']).status, 0);
  const text = retrace(dir, ['info']);
  assert.equal(text.status, 0, describeRun(text));
  assert.match(text.stdout, /process 0: node .*app\.js arg1/);
  assert.match(text.stdout, /exit status 0/);
  assert.match(text.stdout, /2\s+random\.Math\.random/);
  const json = JSON.parse(retrace(dir, ['info', '--json']).stdout);
  assert.equal(json.length, 1);
  assert.equal(json[0].eventsByKind['random.Math.random'], 2);
  assert.equal(json[0].eventsByKind['time.Date.now'], 1);
  assert.equal(json[0].eventsByKind['timers.setTimeout'], 1);
  assert.equal(json[0].nodeVersion, process.version);
  assert.equal(typeof json[0].durationMs, 'number');
});

test('a damaged chunk: replay runs up to it, then says the recording ends there', () => {
  const dir = workdir();
  // Enough events for several chunks; the last one gets damaged.
  writeFiles(dir, { 'app.js': 'let s = 0; for (let i = 0; i < 60000; i++) s += Math.random(); console.log(s > 0);' });
  assert.equal(record(dir, ['node', 'app.js']).status, 0);
  const file = path.join(dir, 'recording', 'p0.rtrc');
  const data = fs.readFileSync(file);
  data[data.length - 200] ^= 0xff;
  fs.writeFileSync(file, data);
  const rep = replay(dir);
  assert.equal(rep.status, 87, describeRun(rep));
  assert.match(rep.stderr, /retrace: recording ends here \(truncated\): the chunk at byte \d+ is damaged/);
});

test('after kill -9 the recording replays up to its last complete chunk', async () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      let n = 0;
      const tick = () => { n++; console.log('tick', n, Math.random()); setTimeout(tick, 2); };
      tick();
    `,
  });
  const child = spawn(process.execPath, [cli, 'record', '--out', 'recording', '--', process.execPath, 'app.js'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('close', r)); // 'close': all of stdout read
  try {
    // Let it print past a few periodic flushes (200 ms each; slower on a loaded machine), then
    // kill the recorded program (not the CLI) hard.
    const deadline = Date.now() + 60_000;
    let pid: number | undefined;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      if (out.split('\n').length < 150) continue;
      const info = retrace(dir, ['info', '--json']);
      if (info.status === 0) pid = (JSON.parse(info.stdout) as { pid: number }[])[0]?.pid;
      if (pid) break;
    }
    assert.ok(pid, `the recorded program never got going: ${out.length} bytes printed`);
    process.kill(pid, 'SIGKILL');
    await exited;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM'); // forwarded to the program: nothing is left running
      await exited;
    }
  }
  const rep = replay(dir);
  assert.equal(rep.status, 87, describeRun(rep));
  assert.match(rep.stderr, /retrace: recording ends here \(truncated\)/);
  const replayed = rep.stdout.trim().split('\n');
  assert.ok(replayed.length > 10, `replayed ${replayed.length} lines`);
  // The killed program may have had output queued for a full pipe (lost with it) while its events
  // were already flushed, or events not yet flushed for lines it printed: either way, the lines
  // both have must be the same.
  const printed = out.trim().split('\n');
  const common = Math.min(replayed.length, printed.length);
  assert.ok(common > 10, `only ${common} lines in common`);
  assert.deepEqual(replayed.slice(0, common), printed.slice(0, common), 'replay and recording agree line for line');
});

test('a recording replays from another folder with the project moved there', () => {
  const dir = workdir();
  writeFiles(dir, { 'proj/app.js': 'console.log(process.cwd(), Math.random(), require("path").basename(__filename))' });
  const rec = record(path.join(dir, 'proj'), ['node', 'app.js']);
  fs.renameSync(path.join(dir, 'proj'), path.join(dir, 'moved'));
  const rep = replay(path.join(dir, 'moved'), [], { offline: true });
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
});

test('a long recording (written by the worker thread) loses nothing at process.exit or an uncaught exception', () => {
  for (const ending of ['process.exit(3)', 'throw new Error("late failure")']) {
    const dir = workdir();
    writeFiles(dir, {
      'app.js': `let s = 0; for (let i = 0; i < 300000; i++) s += Math.random(); console.log(s); ${ending};`,
    });
    const rec = record(dir, ['node', 'app.js']);
    const [info] = JSON.parse(retrace(dir, ['info', '--json']).stdout) as { eventsByKind: Record<string, number>; end: string }[];
    assert.equal(info!.eventsByKind['random.Math.random'], 300000);
    assert.match(info!.end, /exit status (3|1)/);
    const rep = replay(dir);
    assert.equal(rep.status, rec.status, describeRun(rep));
    assert.equal(rep.stdout, rec.stdout);
  }
});
