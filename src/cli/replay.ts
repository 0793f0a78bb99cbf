// retrace replay: re-executes one recorded process with its recording as the outside world.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TraceFile } from '../core/trace/reader.js';
import { ENV, preloadPath } from '../runtime/paths.js';
import { listTraces, rootProcess, UsageError, type TraceRef } from './recording.js';
import { exitLike, say } from './output.js';

export interface ReplayOptions {
  location: string;
  process: number | undefined;
  /** Flags passed through to node: --inspect, --inspect-brk, --enable-source-maps. */
  nodeFlags: string[];
  stallMs: number | undefined;
}

/** What a replay runs: the node arguments, environment and folder for one recorded process. */
export interface PreparedReplay {
  trace: TraceFile;
  header: TraceFile['header'];
  replayRoot: string;
  /** Arguments for the Node.js executable: flags, the preload, the recorded execArgv and script. */
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** Checks that the recorded process can be replayed here and builds its command (used by print too). */
export function prepareReplay(opts: ReplayOptions): PreparedReplay {
  const refs = listTraces(opts.location);
  const ref = opts.process === undefined ? rootProcess(refs) : refs.find((r) => r.process === opts.process);
  if (!ref) throw new UsageError(`the recording has no process ${opts.process} (it has ${refs.map((r) => r.process).join(', ')})`);
  const trace = TraceFile.open(ref.file);
  const header = trace.header;
  const replayRoot = replayRootFor(header.cwd, header.argv[1], refs);
  const mapPath = (p: string) => (p === header.cwd || p.startsWith(header.cwd + path.sep) ? replayRoot + p.slice(header.cwd.length) : p);

  const script = header.argv[1];
  const scriptArgs: string[] = [];
  if (script !== undefined) {
    const mapped = mapPath(script);
    if (!fs.existsSync(mapped)) {
      throw new UsageError(`the recorded program ${mapped} is not here: run replay from the project folder the recording was made in`);
    }
    scriptArgs.push(mapped, ...header.argv.slice(2));
  }
  if (header.nodeVersion.split('.')[0] !== process.version.split('.')[0]) {
    say(`warning: recorded with Node.js ${header.nodeVersion}, replaying with ${process.version}`);
  }

  const args = [...opts.nodeFlags, `--require=${preloadPath()}`, ...header.execArgv.map(mapPath), ...scriptArgs];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [ENV.mode]: 'replay',
    [ENV.trace]: path.resolve(ref.file),
    [ENV.replayRoot]: replayRoot,
    TZ: header.timeZone,
  };
  delete env[ENV.dir];
  if (opts.stallMs !== undefined) env[ENV.stallMs] = String(opts.stallMs);
  return { trace, header, replayRoot, args, env };
}

export async function replay(opts: ReplayOptions): Promise<number> {
  const { header, replayRoot, args, env } = prepareReplay(opts);
  say(`replaying process ${header.process}: ${[path.basename(header.argv[0] ?? 'node'), ...header.execArgv, ...header.argv.slice(1)].join(' ')}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env, cwd: replayRoot });
  process.on('SIGINT', () => {});
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  return exitLike(code, signal);
}

/**
 * Where the recorded process's folder is now. Replay runs from the project folder, the recorded cwd
 * of the first process; a child started in a subfolder of it (`spawn(..., { cwd: 'worker' })`) maps
 * to the same subfolder here, when its program is found there.
 */
function replayRootFor(recordedCwd: string, script: string | undefined, refs: TraceRef[]): string {
  const here = process.cwd();
  let rootCwd: string;
  try {
    rootCwd = TraceFile.open(rootProcess(refs).file).header.cwd;
  } catch {
    return here;
  }
  const relative = path.relative(rootCwd, recordedCwd);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return here;
  const inSubfolder = path.join(here, relative);
  const found = (root: string) => script !== undefined && fs.existsSync(script.startsWith(recordedCwd + path.sep) ? root + script.slice(recordedCwd.length) : script);
  return !found(here) && found(inSubfolder) ? inSubfolder : here;
}
