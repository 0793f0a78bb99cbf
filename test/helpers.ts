// Test support: drives the real `retrace` CLI in child processes, as a user would.
import assert from 'node:assert/strict';
import { execFile, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cli = path.join(repoRoot, 'bin', 'retrace.js');

export interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: SpawnSyncOptions = {}): Run {
  // A hung program fails its test instead of hanging the suite (spawnSync blocks the runner's own
  // timeouts). Callers pass `timeout: undefined` when they have none of their own.
  const r = spawnSync(command, args, { encoding: 'utf8', ...options, timeout: options.timeout ?? 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A fresh folder for one test's program and recording. */
export function workdir(prefix = 'retrace-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes files (name → content) into dir. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
}

/** Environment for the program: the test's own, without any retrace variables leaking in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('RETRACE_')) delete env[key];
  delete env.NODE_TEST_CONTEXT; // else a node --test child would report to our runner
  // `node` in a recorded command is the Node.js running the tests (22 or 24), not another on PATH.
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`;
  return { ...env, ...extra };
}

export interface RunOptions {
  env?: Record<string, string>;
  input?: string;
  timeout?: number;
}

/** `node <args>` without retrace, for the unrecorded baseline. */
export function runPlain(cwd: string, args: string[], opts: RunOptions = {}): Run {
  return run(process.execPath, args, { cwd, env: cleanEnv(opts.env), input: opts.input, timeout: opts.timeout });
}

/** runPlain without blocking the test, so that several unrecorded runs can go at once. */
export function runPlainAsync(cwd: string, args: string[], opts: Omit<RunOptions, 'input'> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env: cleanEnv(opts.env), timeout: opts.timeout ?? 120_000, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
      const status = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      resolve({ status, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/** `retrace record --out recording -- <command>` in cwd. */
export function record(cwd: string, command: string[], opts: RunOptions & { out?: string } = {}): Run {
  return run(process.execPath, [cli, 'record', '--force', '--out', opts.out ?? 'recording', '--', ...command], {
    cwd,
    env: cleanEnv(opts.env),
    input: opts.input,
    timeout: opts.timeout,
  });
}

/** `retrace replay [args]` in cwd; with `offline`, inside a network namespace with no network at all. */
export function replay(cwd: string, args: string[] = [], opts: RunOptions & { offline?: boolean } = {}): Run {
  const argv = [process.execPath, cli, 'replay', ...args];
  const env = cleanEnv(opts.env);
  const [command, ...rest] = opts.offline ? offlineCommand(argv) : argv;
  return run(command!, rest, { cwd, env, input: opts.input, timeout: opts.timeout });
}

/** `retrace <args>` with no network at all (replay, show, print, why only read the recording). */
export function retraceOffline(cwd: string, args: string[], opts: RunOptions = {}): Run {
  const [command, ...rest] = offlineCommand([process.execPath, cli, ...args]);
  return run(command!, rest, { cwd, env: cleanEnv(opts.env), input: opts.input, timeout: opts.timeout });
}

/** `retrace <args>`: any other subcommand. */
export function retrace(cwd: string, args: string[], opts: RunOptions = {}): Run {
  return run(process.execPath, [cli, ...args], { cwd, env: cleanEnv(opts.env), input: opts.input, timeout: opts.timeout });
}

let unsharePrefix: string[] | null | undefined;
/**
 * The command prefix that runs a program in a new network namespace, which has no network at all:
 * `unshare -n` as root, `unshare -rn` (inside a user namespace) otherwise; null where neither works.
 */
function unshare(): string[] | null {
  if (unsharePrefix === undefined) {
    unsharePrefix = null;
    for (const prefix of [['unshare', '-n'], ['unshare', '-rn']]) {
      if (spawnSync(prefix[0]!, [...prefix.slice(1), 'true']).status === 0) {
        unsharePrefix = prefix;
        break;
      }
    }
  }
  return unsharePrefix;
}

/** Whether this machine can run a program with no network (see offlineCommand). */
export function canUnshare(): boolean {
  return unshare() !== null;
}

/**
 * `argv` made to run with no network at all. Throws where the machine cannot make a network
 * namespace: an "offline" replay that quietly ran online would prove nothing.
 */
export function offlineCommand(argv: string[]): string[] {
  const prefix = unshare();
  if (!prefix) throw new Error('cannot run offline here: neither `unshare -n` nor `unshare -rn` works (needs root or user namespaces)');
  return [...prefix, ...argv];
}

/** Replays must print what the recording printed; this says where they differ when they do not. */
export function describeRun(r: Run): string {
  return `status ${r.status}${r.signal ? ` signal ${r.signal}` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/**
 * Every file under dir (but the recording), with its mode, mtime and content hash: what a replay
 * must leave as it found it.
 */
export function snapshotFiles(dir: string, skip: (relPath: string) => boolean = (rel) => rel === 'recording'): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const relPath = path.join(rel, name);
      if (skip(relPath)) continue;
      const full = path.join(dir, relPath);
      const st = fs.lstatSync(full);
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`;
      if (st.isSymbolicLink()) out[relPath] = `link ${fs.readlinkSync(full)}`;
      else if (st.isDirectory()) {
        out[relPath] = `dir ${meta}`;
        walk(relPath);
      } else out[relPath] = `file ${meta} ${createHash('sha256').update(fs.readFileSync(full)).digest('hex')}`;
    }
  };
  walk('.');
  return out;
}

export interface FaithfulOptions {
  /** How many replays (each checked); default 1. */
  times?: number;
  /** Arguments of `retrace replay` (`--process N`...). */
  args?: string[];
  /** The status, signal and stdout the replay must have; default: the recording's run. */
  expected?: { status: number | null; signal?: NodeJS.Signals | null; stdout: string };
  /** Also fail on any `retrace: warning` line. */
  noWarnings?: boolean;
  /** Files of dir the program may legitimately leave changed (none by default). */
  skipFiles?: (relPath: string) => boolean;
  /** Names the case in failure messages. */
  context?: string;
}

/**
 * The one definition of "replays faithfully" the suite uses: each replay runs offline (no network
 * at all), exits with the recorded status (and signal), prints exactly the recorded stdout, reports
 * no divergence and no early end of the recording, and leaves every file of dir as it was.
 */
export function assertReplaysFaithfully(dir: string, rec: Run, opts: FaithfulOptions = {}): Run {
  const expected = opts.expected ?? rec;
  const times = opts.times ?? 1;
  const context = opts.context ? `${opts.context}: ` : '';
  const before = snapshotFiles(dir, opts.skipFiles);
  let rep: Run | undefined;
  for (let i = 0; i < times; i++) {
    rep = replay(dir, opts.args ?? [], { offline: true });
    const which = `${context}replay ${i + 1} of ${times}`;
    assert.doesNotMatch(rep.stderr, /replay diverged|recording ends here/, `${which}\n${describeRun(rep)}`);
    if (opts.noWarnings) assert.doesNotMatch(rep.stderr, /retrace: warning/, `${which}\n${describeRun(rep)}`);
    assert.equal(rep.status, expected.status, `${which}: exit status\n${describeRun(rep)}`);
    if (expected.signal !== undefined) assert.equal(rep.signal, expected.signal, `${which}: signal\n${describeRun(rep)}`);
    assert.equal(rep.stdout, expected.stdout, `${which}: stdout\n${describeRun(rep)}`);
  }
  assert.deepEqual(snapshotFiles(dir, opts.skipFiles), before, `${context}the replay must not create, change or delete files`);
  return rep!;
}
