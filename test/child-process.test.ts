// The child-process boundary, end to end through the real CLI: programs start real commands whose
// output changes from run to run (the clock in nanoseconds, /dev/urandom, pids, scheduling), and
// Node.js children that are recorded as processes of their own. Replays run offline and start no
// process: they must print exactly what the recording printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertReplaysFaithfully, describeRun, record, replay, retrace, runPlain, workdir, writeFiles, type Run } from './helpers.js';

interface ChildInfo {
  pid: number | null;
  command: string;
  sync: boolean;
  end: string;
  process: number | null;
  processes: number[];
}
interface ProcessInfo {
  process: number;
  parent: number | null;
  command: string;
  eventsByKind: Record<string, number>;
  children: ChildInfo[];
}

function recordApp(dir: string, file = 'app.mjs'): Run {
  const rec = record(dir, ['node', file]);
  assert.equal(rec.status, 0, describeRun(rec));
  return rec;
}

/** Replays offline (process N, or the first) and checks it printed `expected` with the recorded status. */
function assertReplays(dir: string, expected: { status: number | null; stdout: string }, args: string[] = []): Run {
  return assertReplaysFaithfully(dir, { status: expected.status, signal: null, stdout: expected.stdout, stderr: '' }, { args, noWarnings: true });
}

/** Two unrecorded runs print different things, so the replay test can fail. */
function assertRunsDiffer(dir: string, file = 'app.mjs', normalize = (s: string) => s): void {
  const a = runPlain(dir, [file]);
  const b = runPlain(dir, [file]);
  assert.equal(a.status, 0, describeRun(a));
  assert.equal(b.status, 0, describeRun(b));
  assert.notEqual(normalize(a.stdout), normalize(b.stdout), 'unrecorded runs differ');
}

function info(dir: string): ProcessInfo[] {
  const r = retrace(dir, ['info', '--json']);
  assert.equal(r.status, 0, describeRun(r));
  return JSON.parse(r.stdout) as ProcessInfo[];
}

/** The 1-based line of `needle` in the file. */
function lineOf(dir: string, file: string, needle: string): number {
  const lines = fs.readFileSync(path.join(dir, file), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes(needle));
  assert.ok(at >= 0, `${needle} is in ${file}`);
  return at + 1;
}

function edit(dir: string, file: string, from: string, to: string): void {
  const full = path.join(dir, file);
  const text = fs.readFileSync(full, 'utf8');
  assert.ok(text.includes(from), `${from} is in ${file}`);
  fs.writeFileSync(full, text.replace(from, to));
}

test('exec, execFile and spawn of shell commands: output, stderr and exit status replay without running them', () => {
  const dir = workdir('retrace-cp-');
  writeFiles(dir, {
    'app.mjs': `import { exec, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
exec('date +%N; echo "to stderr $$" >&2', (err, stdout, stderr) => {
  console.log('exec', err, JSON.stringify(stdout), JSON.stringify(stderr));
  execFile('sh', ['-c', 'head -c 8 /dev/urandom | od -An -tx1'], { encoding: 'buffer' }, (err, out) => {
    console.log('execFile', err, out.toString('hex'));
    const child = spawn('sh', ['-c', 'date +%N; echo $$ >&2; exit 3']);
    child.stdout.on('data', (d) => console.log('spawn stdout', JSON.stringify(String(d))));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => console.log('spawn stderr', JSON.stringify(d)));
    child.on('spawn', () => console.log('spawn event, pid', child.pid));
    child.on('exit', (code, signal) => console.log('exit', code, signal, child.exitCode));
    child.on('close', async (code) => {
      console.log('close', code);
      const { stdout } = await promisify(exec)('date +%N');
      console.log('promisified exec', JSON.stringify(stdout));
      exec('echo failing $$; exit 7', (err, stdout) => console.log('failed exec', err.code, err.killed, err.signal, err.cmd, JSON.stringify(stdout)));
    });
  });
});
`,
  });
  assertRunsDiffer(dir);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /exec null "\d+\\n" "to stderr \d+\\n"/);
  assert.match(rec.stdout, /failed exec 7 false null/);
  assertReplays(dir, rec);
  const [parent] = info(dir);
  assert.deepEqual(parent!.children.map((c) => c.end), ['exit status 0', 'exit status 0', 'exit status 3', 'exit status 0', 'exit status 7']);
  assert.ok(parent!.children.every((c) => typeof c.pid === 'number' && c.process === null), JSON.stringify(parent!.children));
});

test('spawnSync, execSync and execFileSync return the recorded results, input and errors included', () => {
  const dir = workdir('retrace-cp-sync-');
  writeFiles(dir, {
    'app.mjs': `import { execFileSync, execSync, spawnSync } from 'node:child_process';
console.log('execSync', JSON.stringify(execSync('date +%N', { encoding: 'utf8' })));
console.log('execFileSync', execFileSync('sh', ['-c', 'head -c 6 /dev/urandom']).toString('hex'));
const r = spawnSync('sh', ['-c', 'cat; date +%N >&2; exit 4'], { input: 'given ' + process.pid });
console.log('spawnSync', r.status, r.signal, typeof r.pid, JSON.stringify(String(r.stdout)), JSON.stringify(String(r.stderr)));
try {
  execSync('echo out $$; exit 5', { stdio: 'pipe' });
} catch (err) {
  console.log('execSync threw', err.status, JSON.stringify(String(err.stdout)), err.message.split('\\n')[0]);
}
const missing = spawnSync('no-such-command-retrace');
console.log('missing', missing.error.code, missing.error.message, missing.status);
`,
  });
  assertRunsDiffer(dir);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /spawnSync 4 null number "given \d+" "\d+\\n"/);
  assert.match(rec.stdout, /execSync threw 5 "out \d+\\n" Command failed: echo out \$\$; exit 5/);
  assert.match(rec.stdout, /missing ENOENT spawnSync no-such-command-retrace ENOENT null/);
  assertReplays(dir, rec);
  const [parent] = info(dir);
  assert.deepEqual(parent!.children.map((c) => [c.sync, c.end]), [
    [true, 'exit status 0'], [true, 'exit status 0'], [true, 'exit status 4'], [true, 'exit status 5'], [true, 'failed (ENOENT)'],
  ]);
});

test('a forked Node.js child is recorded as process 1: IPC both ways replays in the parent, and the child replays with --process 1', () => {
  const dir = workdir('retrace-cp-fork-');
  writeFiles(dir, {
    'app.mjs': `import { fork } from 'node:child_process';
const child = fork('child.mjs', ['first-arg']);
child.on('message', (m) => {
  console.log('parent got', JSON.stringify(m));
  if (m.n < 4) child.send({ n: m.n + 1, r: Math.random() });
  else child.disconnect();
});
child.on('disconnect', () => console.log('parent: disconnected'));
child.on('exit', (code, signal) => console.log('parent: child exited', code, signal, 'pid matches', child.pid > 0));
child.send({ n: 0, from: 'parent', at: Date.now() });
`,
    'child.mjs': `console.log('child: started with', process.argv[2], typeof process.send);
process.on('message', (m) => {
  console.log('child: got', JSON.stringify(m));
  process.send({ n: m.n + 1, t: process.hrtime.bigint().toString(), r: Math.random() });
});
process.on('disconnect', () => console.log('child: disconnected at', Date.now()));
`,
  });
  const childLines = (s: string) => s.split('\n').filter((l) => l.startsWith('child: ')).map((l) => `${l}\n`).join('');
  const parentLines = (s: string) => s.split('\n').filter((l) => l && !l.startsWith('child: ')).map((l) => `${l}\n`).join('');
  assertRunsDiffer(dir);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /parent got \{"n":5,/);
  assert.match(rec.stdout, /child: got \{"n":4,/);

  const processes = info(dir);
  assert.deepEqual(processes.map((p) => [p.process, p.parent]), [[0, null], [1, 0]]);
  assert.match(processes[1]!.command, /child\.mjs first-arg$/);
  assert.equal(processes[0]!.children.length, 1);
  assert.equal(processes[0]!.children[0]!.process, 1, 'the parent names the recorded child');
  assert.equal(processes[0]!.children[0]!.end, 'exit status 0');
  const text = retrace(dir, ['info']).stdout;
  assert.match(text, /process 1 \(child of 0\): node .*child\.mjs first-arg/);
  assert.match(text, /child processes:\n\s+pid \d+ → process 1: .*node child\.mjs first-arg, exit status 0/);

  // The parent's replay starts no child: it prints the parent's lines only (the child wrote to the
  // shared stdout itself). The child's replay prints the child's lines, with no parent to talk to.
  assertReplays(dir, { status: 0, stdout: parentLines(rec.stdout) });
  const child = assertReplays(dir, { status: 0, stdout: childLines(rec.stdout) }, ['--process', '1']);
  assert.match(child.stderr, /replaying process 1: node .*child\.mjs first-arg/);
});

test('a Node.js child given an env without the recording variables is still recorded, and an env change diverges', () => {
  const dir = workdir('retrace-cp-env-');
  writeFiles(dir, {
    'app.mjs': `import { spawn } from 'node:child_process';
const child = spawn(process.execPath, ['child.mjs'], { env: { PATH: process.env.PATH, GREETING: 'hello' }, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d) => (out += d));
child.on('close', (code) => console.log('child said', JSON.stringify(out), 'status', code));
`,
    'child.mjs': `console.log(process.env.GREETING, Math.random(), Object.keys(process.env).filter((k) => k.startsWith('RETRACE_')).length > 0);`,
  });
  assertRunsDiffer(dir);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /child said "hello 0\.\d+ true\\n" status 0/);
  const processes = info(dir);
  assert.deepEqual(processes.map((p) => [p.process, p.parent]), [[0, null], [1, 0]]);
  assert.equal(processes[0]!.children[0]!.process, 1);
  assertReplays(dir, rec);
  const said = JSON.parse(/child said (".*") status/.exec(rec.stdout)![1]!) as string;
  assertReplays(dir, { status: 0, stdout: said }, ['--process', '1']);

  edit(dir, 'app.mjs', "GREETING: 'hello'", "GREETING: 'bonjour'");
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /started a different child process than recorded \(recorded as process 1\): env changed: recorded \{ GREETING: 'hello' \}, now \{ GREETING: 'bonjour' \}/);
  assert.match(rep.stderr, new RegExp(`at app\\.mjs:${lineOf(dir, 'app.mjs', 'GREETING')}:`));
});

test('concurrent children whose output interleaves: every chunk comes back in its recorded order', () => {
  const dir = workdir('retrace-cp-concurrent-');
  const script = `for i in 1 2 3 4 5; do echo "$1 $i"; sleep 0.00$(od -An -N1 -tu1 /dev/urandom | tr -dc 0-9 | cut -c1); done`;
  writeFiles(dir, {
    'app.mjs': `import { spawn, execFile } from 'node:child_process';
const order = [];
let left = 4;
const done = () => { if (--left === 0) console.log('order', order.join(' ')); };
for (let k = 0; k < 4; k++) {
  if (k % 2 === 0) {
    const child = spawn('sh', ['-c', ${JSON.stringify(script)}, 'sh', 'c' + k]);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => { for (const line of d.trim().split('\\n')) order.push(line.replace(' ', '')); });
    child.on('close', done);
  } else {
    execFile('sh', ['-c', ${JSON.stringify(script)}, 'sh', 'e' + k], (err, stdout) => { order.push('E' + k); done(); });
  }
}
setTimeout(() => order.push('T'), 10);
`,
  });
  // Scheduling differs between unrecorded runs; retry a few times, as the order may repeat by chance.
  const orders = new Set<string>();
  for (let i = 0; i < 4 && orders.size < 2; i++) {
    const r = runPlain(dir, ['app.mjs']);
    assert.equal(r.status, 0, describeRun(r));
    orders.add(r.stdout);
  }
  assert.ok(orders.size >= 2, `the interleaving varies between runs: ${[...orders].join(' | ')}`);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /^order (\S+ ){12}\S+\n$/, 'two spawned children print five lines each, two exec callbacks and a timer');
  assertReplays(dir, rec);
  assertReplays(dir, rec);
});

test('exit codes and signals: a child killed with SIGTERM, a timeout, a command that does not exist', () => {
  const dir = workdir('retrace-cp-exit-');
  writeFiles(dir, {
    'app.mjs': `import { spawn, execFile } from 'node:child_process';
const sleeper = spawn('sleep', ['5']);
sleeper.on('spawn', () => console.log('sleeper pid', sleeper.pid));
sleeper.on('exit', (code, signal) => console.log('sleeper exit', code, signal, sleeper.killed, sleeper.signalCode));
sleeper.on('close', (code, signal) => console.log('sleeper close', code, signal));
setTimeout(() => console.log('kill returned', sleeper.kill('SIGTERM'), 'killed', sleeper.killed), 20);
execFile('sleep', ['5'], { timeout: 30 }, (err) => console.log('timed out', err.killed, err.signal, err.code));
const missing = spawn('no-such-command-retrace', ['x']);
missing.on('error', (err) => console.log('missing', err.code, err.syscall, err.path, err.spawnargs, missing.pid));
missing.on('close', (code) => console.log('missing close', code));
const status = spawn('sh', ['-c', 'exit 9']);
status.on('exit', (code, signal) => console.log('status exit', code, signal, status.pid > 0));
`,
  });
  assertRunsDiffer(dir);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /sleeper exit null SIGTERM true SIGTERM/);
  assert.match(rec.stdout, /timed out true SIGTERM null/);
  assert.match(rec.stdout, /missing ENOENT spawn no-such-command-retrace no-such-command-retrace \[ 'x' \] undefined/);
  assert.match(rec.stdout, /status exit 9 null true/);
  assertReplays(dir, rec);
  const [parent] = info(dir);
  assert.deepEqual(parent!.children.map((c) => c.end), ['killed by SIGTERM', 'killed by SIGTERM', 'failed to start (ENOENT)', 'exit status 9']);
  // execFile's `timeout` is a timer of node:timers that child_process keeps from its load: it must be
  // the recorded one (a live timer would fire by the wall clock in replay, out of its recorded turn).
  assert.equal(parent!.eventsByKind['timers.setTimeout'], 2, JSON.stringify(parent!.eventsByKind));
});

test('a changed command diverges with exit 86 at the program line that started it', () => {
  const dir = workdir('retrace-cp-changed-');
  writeFiles(dir, {
    'app.mjs': `import { exec, execSync } from 'node:child_process';
console.log('sync', execSync('date +%N', { encoding: 'utf8' }).trim());
exec('date +%N', (err, out) => console.log('async', out.trim()));
`,
  });
  recordApp(dir);
  edit(dir, 'app.mjs', "exec('date +%N'", "exec('date +%s'");
  let rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /the command changed: recorded `\/bin\/sh -c "date \+%N"`, now `\/bin\/sh -c "date \+%s"`/);
  assert.match(rep.stderr, new RegExp(`at app\\.mjs:${lineOf(dir, 'app.mjs', "exec('date +%s'")}:`));

  edit(dir, 'app.mjs', "execSync('date +%N'", "execSync('date -u +%N'");
  rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /the command changed: recorded `\/bin\/sh -c "date \+%N"`, now `\/bin\/sh -c "date -u \+%N"`/);
  assert.match(rep.stderr, new RegExp(`at app\\.mjs:${lineOf(dir, 'app.mjs', 'execSync(')}:`));

  // A child the recording never started, where it ran execSync.
  edit(dir, 'app.mjs', "console.log('sync'", "exec('uname -a');\nconsole.log('sync'");
  rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /the program started child process `\/bin\/sh -c "uname -a"`, but the recording has child_process.spawnSync/);
  assert.match(rep.stderr, new RegExp(`at app\\.mjs:${lineOf(dir, 'app.mjs', "exec('uname -a')")}:`));
});

test('what the program writes to a child\'s stdin is checked: the same bytes replay, changed bytes diverge', () => {
  const dir = workdir('retrace-cp-stdin-');
  writeFiles(dir, {
    'app.mjs': `import { spawn } from 'node:child_process';
const cat = spawn('sh', ['-c', 'cat; date +%N']);
let out = '';
cat.stdout.setEncoding('utf8');
cat.stdout.on('data', (d) => (out += d));
cat.on('close', (code) => console.log('cat gave back', JSON.stringify(out), code));
cat.stdin.write('first line ' + Math.random().toFixed(6) + '\\n', () => console.log('write done'));
setTimeout(() => cat.stdin.end('last line\\n'), 5);
`,
  });
  assertRunsDiffer(dir);
  const rec = recordApp(dir);
  assert.match(rec.stdout, /cat gave back "first line 0\.\d+\\nlast line\\n\d+\\n" 0/);
  assertReplays(dir, rec);

  edit(dir, 'app.mjs', "end('last line", "end('final line");
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /wrote different bytes to the stdin of child process `sh -c "cat; date \+%N"` \(pid \d+\): 10 bytes recorded, 11 now, first difference at byte 0/);
  assert.match(rep.stderr, /recorded "last line\\n"\nretrace:\s+now\s+"final line\\n"/);
  assert.match(rep.stderr, new RegExp(`at app\\.mjs:${lineOf(dir, 'app.mjs', 'final line')}:`));
});

test('an IPC message that changed diverges, naming the recorded child process', () => {
  const dir = workdir('retrace-cp-ipc-');
  writeFiles(dir, {
    'app.mjs': `import { fork } from 'node:child_process';
const child = fork('child.mjs', { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
child.on('message', (m) => { console.log('reply', JSON.stringify(m)); child.disconnect(); });
child.send({ question: 'time?' });
`,
    'child.mjs': `process.once('message', (m) => process.send({ answer: Date.now(), to: m }));`,
  });
  recordApp(dir);
  edit(dir, 'app.mjs', "question: 'time?'", "question: 'date?'");
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, /sent a different message to child process `.*node child\.mjs` \(pid \d+, recorded as process 1\): recorded '\{"question":"time\?"\}', now '\{"question":"date\?"\}'/);
  assert.match(rep.stderr, new RegExp(`at app\\.mjs:${lineOf(dir, 'app.mjs', 'child.send(')}:`));
});

test('replay --process N replays a child started in a subfolder', () => {
  const dir = workdir('retrace-cp-subfolder-');
  writeFiles(dir, {
    'app.mjs': `import { execFile } from 'node:child_process';
execFile(process.execPath, ['worker.mjs'], { cwd: 'jobs' }, (err, stdout) => console.log('worker said', JSON.stringify(stdout)));
`,
    'jobs/worker.mjs': `import * as fs from 'node:fs';
console.log(process.cwd().endsWith('jobs'), fs.readFileSync('input.txt', 'utf8').trim(), Math.random());`,
    'jobs/input.txt': 'job input\n',
  });
  const rec = recordApp(dir);
  const said = JSON.parse(/worker said (".*")/.exec(rec.stdout)![1]!) as string;
  assert.match(said, /^true job input 0\.\d+\n$/);
  fs.writeFileSync(path.join(dir, 'jobs/input.txt'), 'changed since\n');
  assertReplays(dir, rec);
  assertReplays(dir, { status: 0, stdout: said }, ['--process', '1']);
});

test('Node.js run by a shell child (execSync, exec of two commands) is recorded, linked to the shell and replays', () => {
  const dir = workdir('retrace-cp-shell-');
  writeFiles(dir, {
    'app.mjs': `import { exec, execSync } from 'node:child_process';
console.log('sync child says', execSync('node -p "Math.random()"', { encoding: 'utf8' }).trim());
exec('node -p "Date.now()" && node -p "process.pid"', (err, out) => console.log('shell children said', JSON.stringify(out)));
`,
  });
  assertRunsDiffer(dir);
  const rec = recordApp(dir);
  const processes = info(dir);
  assert.deepEqual(processes.map((p) => [p.process, p.parent]), [[0, null], [1, 0], [2, 0], [3, 0]]);
  assert.deepEqual(processes[0]!.children.map((c) => [c.sync, c.processes]), [[true, [1]], [false, [2, 3]]]);
  assert.match(retrace(dir, ['info']).stdout, /pid \d+ → processes 2, 3: \/bin\/sh -c/);
  assertReplays(dir, rec);
  const [, said, shellSaid] = /sync child says (\S+)\nshell children said (".*")/.exec(rec.stdout)!;
  const [time, pid] = (JSON.parse(shellSaid!) as string).trim().split('\n');
  // These processes' code is \`node -p CODE\`: code that comes from the recording, which replay runs only with --trust.
  assertReplays(dir, { status: 0, stdout: `${said}\n` }, ['--process', '1', '--trust']);
  assertReplays(dir, { status: 0, stdout: `${time}\n` }, ['--process', '2', '--trust']);
  assertReplays(dir, { status: 0, stdout: `${pid}\n` }, ['--process', '3', '--trust']);
});
