// retrace record: runs a command with every Node.js process in its tree recorded.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENV, TRACE_FILE_PATTERN } from '../runtime/paths.js';
import { withPreload } from '../runtime/session.js';
import { hasRecording, listTraces, UsageError } from './recording.js';
import { exitLike, say } from './output.js';

export interface RecordOptions {
  out: string;
  force: boolean;
  command: string[];
}

export async function record(opts: RecordOptions): Promise<number> {
  if (opts.command.length === 0) throw new UsageError('record needs a command: retrace record -- node app.js');
  const dir = path.resolve(opts.out);
  if (hasRecording(dir)) {
    if (!opts.force) throw new UsageError(`${opts.out} already holds a recording; use --force to replace it, or --out DIR`);
    for (const name of fs.readdirSync(dir)) if (TRACE_FILE_PATTERN.test(name)) fs.rmSync(path.join(dir, name));
  }
  fs.mkdirSync(dir, { recursive: true });

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
