// retrace record: runs a command with every Node.js process in its tree recorded.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENV, RECORDING_DIR_MODE, RECORDING_FILE_MODE, TRACE_FILE_PATTERN } from '../runtime/paths.js';
import { withPreload } from '../runtime/session.js';
import { TraceFile } from '../core/trace/reader.js';
import { hasRecording, listTraces, UsageError, type TraceRef } from './recording.js';
import { exitLike, say } from './output.js';
import { loadRules, RedactionConfigError } from '../redaction/rules.js';
import { newRecordingKey, recipientsFromEnv } from './encryption.js';

export interface RecordOptions {
  out: string;
  force: boolean;
  /** Redaction of secrets (docs/security.md); false: --no-redact, everything is stored as it was. */
  redact?: boolean;
  command: string[];
  /** 'failure': delete the recording unless the command failed or a recorded process crashed. */
  keep: 'always' | 'failure';
  /** Each process's trace stops before it grows past this many bytes (--max-size). */
  maxBytes?: number;
  /** Each process's recording stops this long after it started (--max-duration). */
  maxDurationMs?: number;
  /** age recipients to encrypt the recording to (--encrypt-to, or RETRACE_ENCRYPT_TO). */
  encryptTo?: string[];
}

/**
 * `--out src` must not write traces among a project's files (nor `--force` delete anything there):
 * the folder must be new, empty, or hold a recording and nothing else.
 */
function refuseOtherFiles(dir: string, shown: string): void {
  let names: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) return; // a file in the way: prepareFolder says so
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const others = names.filter((n) => !TRACE_FILE_PATTERN.test(n) && !n.startsWith('.retrace-probe-'));
  if (others.length === 0) return;
  const listed = others.slice(0, 3).join(', ') + (others.length > 3 ? `, and ${others.length - 3} more` : '');
  throw new UsageError(`${shown} holds files that are not a recording (${listed}): record into a new or empty folder, e.g. --out recording`);
}

/**
 * Makes the recording folder, owner-only (0700 whatever the umask) when retrace creates it, and
 * checks that trace files can be created in it, so that a folder that cannot hold a recording is
 * one line here instead of a warning from every process of the program.
 */
function prepareFolder(dir: string, shown: string): void {
  const existed = fs.existsSync(dir);
  try {
    makeFolders(dir);
    if (!existed) fs.chmodSync(dir, RECORDING_DIR_MODE);
    if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    const probe = path.join(dir, `.retrace-probe-${process.pid}`);
    fs.closeSync(fs.openSync(probe, 'wx', RECORDING_FILE_MODE));
    fs.rmSync(probe);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'EEXIST' || e.code === 'ENOTDIR' ? 'a file of that name is in the way'
      : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied'
      : e.code === 'EROFS' ? 'the file system is read-only'
      : e.code === 'ENOSPC' ? 'the disk is full'
      : (e.code ?? e.message);
    throw new UsageError(`cannot record to ${shown}: ${why}`);
  }
}

/** mkdir -p, one level at a time, so that the error is the real one (a recursive mkdir reports ENOENT on a read-only file system). */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) fs.mkdirSync(d, { mode: RECORDING_DIR_MODE });
}

export async function record(opts: RecordOptions): Promise<number> {
  if (opts.command.length === 0) throw new UsageError('record needs a command: retrace record -- node app.js');
  // The project's redaction rules, checked before anything runs: a mistake in them is the user's to fix.
  let redactRules: string;
  if (opts.redact === false) {
    redactRules = 'off';
    say('recording without redaction (--no-redact): secrets in the environment, headers, bodies and files are stored as they are');
  } else {
    try {
      redactRules = JSON.stringify(loadRules(process.cwd()).config);
    } catch (err) {
      if (err instanceof RedactionConfigError) throw new UsageError(err.message);
      throw err;
    }
  }
  const dir = path.resolve(opts.out);
  if (hasRecording(dir)) {
    if (!opts.force) throw new UsageError(`${opts.out} already holds a recording; use --force to replace it, or --out DIR`);
    for (const name of fs.readdirSync(dir)) if (TRACE_FILE_PATTERN.test(name)) fs.rmSync(path.join(dir, name));
  }
  const existedBefore = fs.existsSync(dir);
  refuseOtherFiles(dir, opts.out);
  prepareFolder(dir, opts.out);

  const recipients = opts.encryptTo?.length ? opts.encryptTo : recipientsFromEnv();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [ENV.mode]: 'record',
    [ENV.dir]: dir,
    [ENV.redact]: redactRules,
    NODE_OPTIONS: withPreload(process.env.NODE_OPTIONS),
  };
  for (const key of [ENV.maxBytes, ENV.maxDurationMs, ENV.encrypted, ENV.recordingKey, ENV.recordingKeyAge]) delete env[key];
  if (opts.maxBytes !== undefined) env[ENV.maxBytes] = String(opts.maxBytes);
  if (opts.maxDurationMs !== undefined) env[ENV.maxDurationMs] = String(opts.maxDurationMs);
  if (recipients.length > 0) {
    const { key, age } = await newRecordingKey(recipients);
    env[ENV.encrypted] = '1';
    env[ENV.recordingKey] = key.toString('base64');
    env[ENV.recordingKeyAge] = age;
  }

  const [command, ...args] = opts.command as [string, ...string[]];
  const child = spawn(command, args, { stdio: 'inherit', env });
  // The terminal sends Ctrl-C to its whole foreground group, the program included: let the program
  // decide, and wait for it. A SIGINT sent to this process alone (a supervisor, `timeout -s INT`,
  // `kill -INT`) is passed on, as SIGTERM and SIGHUP are.
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  process.on('SIGINT', () => {
    if (!inTerminalForeground()) child.kill('SIGINT');
  });
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGHUP', forward('SIGHUP'));

  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new UsageError(`command not found: ${command}`));
      else reject(err);
    });
    child.on('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  let refs: TraceRef[] = [];
  try {
    refs = listTraces(dir);
  } catch {
    refs = [];
  }
  const count = refs.length;
  const shown = path.relative(process.cwd(), dir) || '.';
  const processes = `${count} process${count === 1 ? '' : 'es'}`;
  if (count === 0) {
    say(`no Node.js process was recorded: is "${command}" a Node.js program?`);
  } else if (opts.keep === 'failure') {
    const failures = [
      ...(code === 0 && !signal ? [] : [`the command ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`]),
      ...crashedProcesses(refs),
    ];
    if (failures.length === 0) {
      for (const ref of refs) fs.rmSync(ref.file, { force: true });
      if (!existedBefore) {
        try {
          fs.rmdirSync(dir); // the folder record made, if nothing else was put in it
        } catch {
          // not empty: what else is there is not ours to delete
        }
      }
      say(`deleted the recording of ${processes} (--keep failure): the command exited with status 0 and no recorded process crashed`);
    } else {
      say(`kept the recording of ${processes} in ${shown} (--keep failure): ${failures.join('; ')}`);
    }
  } else {
    say(`recorded ${processes} to ${shown}`);
  }
  return exitLike(code, signal);
}

/**
 * The recorded processes that crashed: exited with a non-zero status, killed by a signal other than
 * SIGTERM (how test runners and supervisors end their workers), or stopped before their recording
 * was closed (SIGKILL, a crash of Node.js itself, an unreadable trace).
 */
function crashedProcesses(refs: TraceRef[]): string[] {
  const out: string[] = [];
  for (const ref of refs) {
    let trace: TraceFile;
    try {
      trace = TraceFile.open(ref.file);
    } catch (err) {
      out.push(`process ${ref.process}'s recording cannot be read (${(err as Error).message})`);
      continue;
    }
    const h = trace.header;
    const what = `process ${h.process} (${[path.basename(h.argv[0] ?? 'node'), ...h.argv.slice(1).map((a) => path.relative(h.cwd, a) || a)].join(' ')})`;
    const end = trace.end;
    if (!end) out.push(`${what} stopped before its recording was closed`);
    else if (end.signal && end.signal !== 'SIGTERM') out.push(`${what} was killed by ${end.signal}`);
    else if (!end.signal && end.exitCode !== 0 && end.exitCode !== null) out.push(`${what} exited with status ${end.exitCode}`);
  }
  return out;
}

/**
 * Whether this process is in the foreground process group of a terminal, where a Ctrl-C reaches
 * the program directly (from /proc/self/stat: the controlling terminal and its foreground group).
 */
function inTerminalForeground(): boolean {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [pgrp, ttyNr, tpgid] = [Number(fields[2]), Number(fields[4]), Number(fields[5])];
    return ttyNr !== 0 && tpgid === pgrp;
  } catch {
    // Not Linux: assume a terminal when there is one, as before.
    return process.stdin.isTTY === true;
  }
}
