// retrace replay: re-executes one recorded process with its recording as the outside world.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TraceFile } from '../core/trace/reader.js';
import { ENV, preloadPath } from '../runtime/paths.js';
import { checkoutDifferences, isPack, openPack, type OpenedPack } from './pack.js';
import { listTraces, projectRootFor, rootProcess, UsageError, type TraceRef } from './recording.js';
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
  const replayRoot = replayRootFor(projectRootFor(opts.location), header.cwd, header.argv[1], refs);
  if (isPack(opts.location)) noteCheckout(openPack(opts.location), refs);
  const mapPath = (p: string) => (p === header.cwd || p.startsWith(header.cwd + path.sep) ? replayRoot + p.slice(header.cwd.length) : p);

  // `node -e CODE a b` and `node -p`: the code is in execArgv and argv[1] is already an argument;
  // `node - a b` reads its script from stdin, which the recording holds.
  const inline = runsInlineCode(header.execArgv);
  const script = inline ? undefined : header.argv[1];
  const scriptArgs: string[] = inline ? header.argv.slice(1) : [];
  if (script === '-') {
    scriptArgs.push(script, ...header.argv.slice(2));
  } else if (script !== undefined) {
    const mapped = mapPath(script);
    if (!mainModuleExists(mapped)) {
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
  // Standard input comes from the recording; fd 0 is an empty pipe, not /dev/null, so that streams
  // the program opens on it (`new tty.WriteStream(0)`) work as they did on a piped stdin.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'inherit', 'inherit'], env, cwd: replayRoot });
  child.stdin?.on('error', () => {}).end();
  process.on('SIGINT', () => {});
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  return exitLike(code, signal);
}

/** Whether node's options run code given on the command line (`-e`, `--eval`, `-p`, `--print`) instead of a file. */
function runsInlineCode(execArgv: string[]): boolean {
  return execArgv.some((a) => /^(-e|-p|-pe|-ep|--eval|--print)(=|$)/.test(a));
}

/**
 * Whether the main module is here as Node would find it: `node lib/cli/bin` runs `lib/cli/bin.js`
 * and argv[1] keeps the name without its extension (a folder runs its package main or index).
 */
function mainModuleExists(file: string): boolean {
  if (fs.existsSync(file)) return true;
  return ['.js', '.cjs', '.mjs', '.json', '.node', '.ts', '.cts', '.mts'].some((ext) => fs.existsSync(file + ext));
}

/**
 * Where the recorded process's folder is now. Replay runs from the project folder, the recorded cwd
 * of the first process; a child started in a subfolder of it (`spawn(..., { cwd: 'worker' })`) maps
 * to the same subfolder here, when its program is found there.
 */
function replayRootFor(here: string, recordedCwd: string, script: string | undefined, refs: TraceRef[]): string {
  let rootCwd: string;
  try {
    rootCwd = TraceFile.open(rootProcess(refs).file).header.cwd;
  } catch {
    return here;
  }
  const relative = path.relative(rootCwd, recordedCwd);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return here;
  const inSubfolder = path.join(here, relative);
  const found = (root: string) => script !== undefined && mainModuleExists(script.startsWith(recordedCwd + path.sep) ? root + script.slice(recordedCwd.length) : script);
  return !found(here) && found(inSubfolder) ? inSubfolder : here;
}

/** Run from a checkout of the packed project: says whether its files differ from the snapshot replayed. */
const noted = new Set<string>();
function noteCheckout(pack: OpenedPack, refs: TraceRef[]): void {
  if (noted.has(pack.dir)) return;
  noted.add(pack.dir);
  let program: string | undefined;
  try {
    const h = TraceFile.open(rootProcess(refs).file).header;
    program = h.argv[1] === undefined ? undefined : path.resolve(h.cwd, h.argv[1]);
  } catch {
    return;
  }
  const differ = checkoutDifferences(pack, process.cwd(), program);
  if (differ === null || differ.length === 0) return;
  const shown = differ.slice(0, 5).join(', ') + (differ.length > 5 ? `, and ${differ.length - 5} more` : '');
  say(`this folder differs from the packed snapshot of the project in ${differ.length} file${differ.length === 1 ? '' : 's'} (${shown}): replaying the snapshot, as recorded`);
}
