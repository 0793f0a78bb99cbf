// Every `os` query is an input, each with a paired check that can fail: two unrecorded runs in
// different surroundings print different values, and the replay, made in the other surroundings,
// prints the recorded one. The surroundings are varied for real: a UTS namespace with another
// hostname, `nice`, CPU affinity, another user, `setarch` for the kernel's release and machine,
// HOME and TMPDIR. The few queries whose answer is fixed on one machine (total memory, the
// kernel's version string, platform, arch, endianness, type) cannot differ here, so for them the
// check is that the recording holds the query's event: a query that stopped being recorded
// fails there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, describeRun, offlineCommand, record, retraceOffline, runPlain, workdir, writeFiles, type Run } from './helpers.js';

const show = (expr: string) => `import os from 'node:os'; console.log(JSON.stringify(${expr}));`;

/** A command prefix that runs a program in other surroundings, so that a query answers differently. */
type Surroundings = { prefix?: string[]; env?: Record<string, string> };

interface Query {
  name: string;
  expr: string;
  /** The surroundings of the first (recorded) and second (replayed) run. */
  runs: [Surroundings, Surroundings];
}

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];

const varied: Query[] = [
  { name: 'hostname', expr: 'os.hostname()', runs: [{ prefix: ['unshare', '-u', 'sh', '-c', 'hostname first-host && exec "$0" "$@"'] }, { prefix: ['unshare', '-u', 'sh', '-c', 'hostname second-host && exec "$0" "$@"'] }] },
  { name: 'getPriority', expr: 'os.getPriority()', runs: [{ prefix: ['nice', '-n', '7'] }, {}] },
  { name: 'availableParallelism', expr: 'os.availableParallelism()', runs: [{ prefix: ['taskset', '-c', '0'] }, {}] },
  { name: 'userInfo', expr: 'os.userInfo()', runs: [{ prefix: NOBODY }, {}] },
  { name: 'homedir', expr: 'os.homedir()', runs: [{ env: { HOME: '/home/first' } }, { env: { HOME: '/home/second' } }] },
  { name: 'tmpdir', expr: 'os.tmpdir()', runs: [{ env: { TMPDIR: '/tmp/first' } }, { env: { TMPDIR: '/tmp/second' } }] },
  { name: 'release', expr: 'os.release()', runs: [{ prefix: ['setarch', 'x86_64', '--uname-2.6'] }, {}] },
  { name: 'machine', expr: 'os.machine()', runs: [{ prefix: ['setarch', 'linux32'] }, {}] },
  { name: 'uptime and freemem', expr: '[os.uptime(), os.freemem()]', runs: [{}, {}] },
  { name: 'cpus', expr: 'os.cpus().map((c) => c.times)', runs: [{}, {}] },
];

const fixed = ['totalmem', 'version', 'type', 'platform', 'arch', 'endianness', 'loadavg', 'networkInterfaces'];

function plainIn(dir: string, s: Surroundings): Run {
  if (!s.prefix) return runPlain(dir, ['app.mjs'], { env: s.env });
  const r = spawnSync(s.prefix[0]!, [...s.prefix.slice(1), process.execPath, 'app.mjs'], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...s.env }, timeout: 60_000 });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function retraceIn(dir: string, s: Surroundings, args: string[]): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, ...s.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
  for (const k of Object.keys(env)) if (k.startsWith('RETRACE_') || k === 'NODE_TEST_CONTEXT') delete env[k];
  const argv = [...(s.prefix ?? []), process.execPath, cli, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: dir, encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

for (const q of varied) {
  test(`os.${q.name}: differs with the surroundings, and replays as recorded in other ones`, () => {
    const dir = workdir('retrace-os-');
    // Another user must be able to read the program and write the recording.
    fs.chmodSync(dir, 0o777);
    writeFiles(dir, { 'app.mjs': show(q.expr) });
    fs.chmodSync(path.join(dir, 'app.mjs'), 0o644);
    const plain = q.runs.map((s) => plainIn(dir, s));
    for (const p of plain) assert.equal(p.status, 0, describeRun(p));
    assert.notEqual(plain[0]!.stdout, plain[1]!.stdout, 'two unrecorded runs differ');
    const rec = retraceIn(dir, q.runs[0], ['record', '--force', '--out', 'recording', '--', 'node', 'app.mjs']);
    assert.equal(rec.status, 0, describeRun(rec));
    const rep = retraceIn(dir, q.runs[1], ['replay']);
    assert.equal(rep.status, 0, describeRun(rep));
    assert.equal(rep.stdout, rec.stdout);
  });
}

test('os queries whose answer is fixed on one machine are recorded all the same, and replay offline', () => {
  const dir = workdir('retrace-os-');
  writeFiles(dir, { 'app.mjs': show(`[${fixed.map((n) => `os.${n}()`).join(', ')}]`) + `\nos.setPriority(os.getPriority());` });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const events = retraceOffline(dir, ['show', '--json', '--all', '--no-pager']);
  assert.equal(events.status, 0, describeRun(events));
  for (const name of [...fixed, 'setPriority']) assert.match(events.stdout, new RegExp(`"os\\.${name}"`), `the recording holds os.${name}`);
  const [command, ...rest] = offlineCommand([process.execPath, cli, 'replay']);
  const rep = spawnSync(command!, rest, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(rep.status, 0, rep.stderr);
  assert.equal(rep.stdout, rec.stdout);
});
