// retrace record: runs a command with every Node.js process in its tree recorded.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENV, RECORDING_DIR_MODE, RECORDING_FILE_MODE, TRACE_FILE_PATTERN } from '../runtime/paths.js';
import { withPreload } from '../runtime/session.js';
import { hasRecording, listTraces, UsageError } from './recording.js';
import { exitLike, say } from './output.js';

export interface RecordOptions {
  out: string;
  force: boolean;
  command: string[];
}

/**
 * Makes the recording folder, owner-only (0700 whatever the umask) when retrace creates it, and
 * checks that trace files can be created in it, so that a folder that cannot hold a recording is
 * one line here instead of a warning from every process of the program.
 */
function prepareFolder(dir: string, shown: string): void {
  const existed = fs.existsSync(dir);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: RECORDING_DIR_MODE });
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

export async function record(opts: RecordOptions): Promise<number> {
  if (opts.command.length === 0) throw new UsageError('record needs a command: retrace record -- node app.js');
  const dir = path.resolve(opts.out);
  if (hasRecording(dir)) {
    if (!opts.force) throw new UsageError(`${opts.out} already holds a recording; use --force to replace it, or --out DIR`);
    for (const name of fs.readdirSync(dir)) if (TRACE_FILE_PATTERN.test(name)) fs.rmSync(path.join(dir, name));
  }
  prepareFolder(dir, opts.out);

  const [command, ...args] = opts.command as [string, ...string[]];
  const child = spawn(command, args, {
    stdio: 'inherit',
    env: {
      ...process.env,
      [ENV.mode]: 'record',
      [ENV.dir]: dir,
      NODE_OPTIONS: withPreload(process.env.NODE_OPTIONS),
    },
  });
  // The terminal sends Ctrl-C to the whole group: let the program decide, and wait for it.
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  process.on('SIGINT', () => {});
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGHUP', forward('SIGHUP'));

  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new UsageError(`command not found: ${command}`));
      else reject(err);
    });
    child.on('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  let count = 0;
  try {
    count = listTraces(dir).length;
  } catch {
    count = 0;
  }
  if (count === 0) say(`no Node.js process was recorded: is "${command}" a Node.js program?`);
  else say(`recorded ${count} process${count === 1 ? '' : 'es'} to ${path.relative(process.cwd(), dir) || '.'}`);
  return exitLike(code, signal);
}
