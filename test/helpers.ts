// Test support: drives the real `retrace` CLI in child processes, as a user would.
import { execFile, spawnSync, type SpawnSyncOptions } from 'node:child_process';
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
  const argv = [cli, 'replay', ...args];
  const env = cleanEnv(opts.env);
  if (opts.offline && canUnshare()) {
    return run('unshare', ['-n', process.execPath, ...argv], { cwd, env, input: opts.input, timeout: opts.timeout });
  }
  return run(process.execPath, argv, { cwd, env, input: opts.input, timeout: opts.timeout });
}

/** `retrace <args>`: any other subcommand. */
export function retrace(cwd: string, args: string[], opts: RunOptions = {}): Run {
  return run(process.execPath, [cli, ...args], { cwd, env: cleanEnv(opts.env), input: opts.input, timeout: opts.timeout });
}

let unshareWorks: boolean | undefined;
/** Whether `unshare -n` can make a network namespace here (root, or user namespaces allowed). */
export function canUnshare(): boolean {
  unshareWorks ??= spawnSync('unshare', ['-n', 'true']).status === 0;
  return unshareWorks;
}

/** Replays must print what the recording printed; this says where they differ when they do not. */
export function describeRun(r: Run): string {
  return `status ${r.status}${r.signal ? ` signal ${r.signal}` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}
