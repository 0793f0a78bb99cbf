// retrace replay: re-executes one recorded process with its recording as the outside world.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TraceFile } from '../core/trace/reader.js';
import { recordingKeyFor } from '../core/trace/crypto.js';
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

  const { execArgv, scriptArgs } = recordedCommand(header, replayRoot, mapPath, 'replay');
  if (header.nodeVersion.split('.')[0] !== process.version.split('.')[0]) {
    say(`warning: recorded with Node.js ${header.nodeVersion}, replaying with ${process.version}`);
  }

  const args = [...opts.nodeFlags, `--require=${preloadPath()}`, ...execArgv, ...scriptArgs];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [ENV.mode]: 'replay',
    [ENV.trace]: path.resolve(ref.file),
    [ENV.replayRoot]: replayRoot,
    TZ: header.timeZone,
  };
  delete env[ENV.dir];
  addRecordingKeyEnv(env, trace);
  if (opts.stallMs !== undefined) env[ENV.stallMs] = String(opts.stallMs);
  return { trace, header, replayRoot, args, env };
}

/**
 * For a replayed process: the recording key the CLI unwrapped, when its trace is encrypted. The
 * process takes it out of its environment before the program runs.
 */
export function addRecordingKeyEnv(env: NodeJS.ProcessEnv, trace: TraceFile): void {
  delete env[ENV.recordingKey];
  delete env[ENV.recordingKeyAge];
  const key = trace.keyAge === null ? undefined : recordingKeyFor({ age: trace.keyAge, salt: '' });
  if (key && trace.keyAge !== null) {
    env[ENV.recordingKey] = key.toString('base64');
    env[ENV.recordingKeyAge] = trace.keyAge;
  }
}

let trusted = false;
/** `--trust`: the recording's Node.js flags and a program outside the project are used as recorded. */
export function trustRecording(): void {
  trusted = true;
}

/** Whether --trust was given (`retrace vscode --trust` writes it into the configuration it makes). */
export function recordingTrusted(): boolean {
  return trusted;
}

/**
 * Recorded Node.js flags replay passes on without --trust: they change how Node.js runs the
 * program's own code, never what code runs (docs/security.md lists them and why).
 */
const SAFE_FLAGS = new Set([
  '--experimental-strip-types', '--no-experimental-strip-types', '--experimental-transform-types', '--enable-source-maps',
  '--no-warnings', '--no-deprecation', '--trace-warnings', '--trace-deprecation', '--throw-deprecation', '--pending-deprecation',
  '--trace-uncaught', '--expose-gc', '--experimental-vm-modules', '--experimental-require-module', '--no-experimental-require-module',
  '--experimental-detect-module', '--no-experimental-detect-module', '--experimental-wasm-modules', '--experimental-websocket',
  '--experimental-eventsource', '--experimental-sqlite', '--no-experimental-sqlite', '--experimental-webstorage',
  '--preserve-symlinks', '--preserve-symlinks-main', '--frozen-intrinsics', '--abort-on-uncaught-exception', '--no-addons',
  '--zero-fill-buffers', '--use-strict', '--no-experimental-global-navigator', '--experimental-global-navigator',
  '--stack-trace-limit', '--max-old-space-size', '--max-semi-space-size', '--stack-size', '--unhandled-rejections',
  '--input-type', '--experimental-default-type', '--disable-warning', '--conditions', '-C', '--title', '--dns-result-order',
  '--disable-proto', '--experimental-network-inspection',
  // Node's test runner: which of the project's test files run, how, and how they report. The test
  // files themselves are the program; a reporter module and the setup module are loaders (below).
  '--test', '--test-only', '--test-name-pattern', '--test-skip-pattern', '--test-concurrency', '--test-timeout',
  '--test-force-exit', '--test-shard', '--test-isolation', '--experimental-test-isolation', '--experimental-test-coverage',
  '--test-coverage-include', '--test-coverage-exclude', '--test-coverage-lines', '--test-coverage-branches',
  '--test-coverage-functions', '--test-update-snapshots', '--experimental-test-snapshots', '--experimental-test-module-mocks',
]);
/** Node's own test reporters, and the destinations that are the process's own output. */
const BUILTIN_TEST_REPORTERS = new Set(['spec', 'tap', 'dot', 'junit', 'lcov']);
const OWN_OUTPUT = new Set(['stdout', 'stderr']);
/** Flags whose value may be the next argument. */
const VALUE_FLAGS = new Set([
  '--stack-trace-limit', '--max-old-space-size', '--max-semi-space-size', '--stack-size', '--unhandled-rejections', '--input-type',
  '--experimental-default-type', '--disable-warning', '--conditions', '-C', '--title', '--dns-result-order', '--disable-proto',
  '--import', '--require', '-r', '--loader', '--experimental-loader', '--eval', '-e', '--print', '-p', '-pe', '-ep', '--env-file', '--env-file-if-exists',
  '--inspect-port', '--debug-port', '--watch-path', '--test-reporter', '--test-reporter-destination', '--redirect-warnings', '--cpu-prof-dir',
  '--heap-prof-dir', '--diagnostic-dir', '--report-dir', '--experimental-config-file', '--secure-heap', '--openssl-config', '--icu-data-dir',
  '--test-name-pattern', '--test-skip-pattern', '--test-concurrency', '--test-timeout', '--test-shard', '--test-isolation',
  '--test-coverage-include', '--test-coverage-exclude', '--test-coverage-lines', '--test-coverage-branches', '--test-coverage-functions',
  '--test-global-setup',
]);
/**
 * Preloads and loaders: passed on when their code is on this machine, in the project or in an
 * installed package (a package name installed for the project, or a file under a node_modules
 * folder, as `tsx` passes its loader): never a data: or http: URL, or a file elsewhere.
 */
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '--test-reporter', '--test-global-setup']);
/** The recorded process's own debugger flags: replay has its own (--inspect), so these are dropped. */
const DEBUGGER_FLAG = /^--(inspect|inspect-brk|inspect-wait|inspect-port|debug-port)(=|$)/;

/** A bare package specifier (`tsx`, `tsx/esm`, `@scope/pkg/register`), never a path or URL. */
const BARE_SPECIFIER = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/[\w.-]+)*$/i;

/** Whether a package named by a bare specifier is installed where Node.js resolves it from the project. */
function installedInProject(spec: string, root: string): boolean {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  for (let dir = root; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules', name, 'package.json'))) return true;
    if (path.dirname(dir) === dir) return false;
  }
}

/** Whether a recorded --import/--require/--loader value names local code of the project or of an installed package. */
function localLoader(value: string, replayRoot: string, mapPath: (p: string) => string): boolean {
  if (BARE_SPECIFIER.test(value)) return installedInProject(value, replayRoot);
  let file: string;
  if (value.startsWith('file:')) {
    try {
      file = fileURLToPath(value);
    } catch {
      return false;
    }
  } else if (path.isAbsolute(value) || value.startsWith('./') || value.startsWith('../')) {
    file = path.resolve(replayRoot, value);
  } else {
    return false;
  }
  file = mapPath(file);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return false;
  }
  return insideFolder(real, fs.realpathSync(replayRoot)) || real.split(path.sep).includes('node_modules');
}

function insideFolder(file: string, folder: string): boolean {
  const relative = path.relative(folder, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * The Node.js flags and program of a recorded process, as replay may run them here. A recording is
 * data that may come from anyone: without --trust, recorded flags that run code (--import,
 * --require, loaders of files or URLs, --eval) or read files (--env-file), and a program outside
 * the project folder, are refused, and the error lists them.
 */
export function recordedCommand(header: TraceFile['header'], replayRoot: string, mapPath: (p: string) => string, command: string): { execArgv: string[]; scriptArgs: string[] } {
  const execArgv: string[] = [];
  const refused: string[] = [];
  const flags = header.execArgv;
  for (let i = 0; i < flags.length; i++) {
    const raw = flags[i]!;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const name = eq > 0 ? raw.slice(0, eq) : raw;
    const takesNext = eq < 0 && VALUE_FLAGS.has(name) && i + 1 < flags.length;
    const value = eq > 0 ? raw.slice(eq + 1) : takesNext ? flags[i + 1]! : undefined;
    const whole = takesNext ? [raw, flags[++i]!] : [raw];
    if (DEBUGGER_FLAG.test(raw)) continue;
    const safe =
      SAFE_FLAGS.has(name) ||
      (name === '--test-reporter' && value !== undefined && BUILTIN_TEST_REPORTERS.has(value)) ||
      (name === '--test-reporter-destination' && value !== undefined && OWN_OUTPUT.has(value)) ||
      (LOADER_FLAGS.has(name) && value !== undefined && localLoader(value, replayRoot, mapPath));
    if (safe || trusted) execArgv.push(...whole.map(mapPath));
    else refused.push(whole.join(' '));
  }
  // `node -e CODE a b` and `node -p`: the code is in execArgv (refused above unless trusted) and
  // argv[1] is already an argument; `node - a b` reads its script from stdin, which the recording holds.
  const inline = runsInlineCode(header.execArgv);
  const script = inline ? undefined : header.argv[1];
  const scriptArgs: string[] = inline ? header.argv.slice(1) : [];
  if (script === '-') {
    if (!trusted) refused.push('a program read from stdin (its code is in the recording)');
    scriptArgs.push(script, ...header.argv.slice(2));
  } else if (script !== undefined) {
    const mapped = mapPath(script);
    if (!mainModuleExists(mapped)) {
      throw new UsageError(`the recorded program ${mapped} is not here: run ${command} from the project folder the recording was made in`);
    }
    const real = fs.realpathSync(fs.existsSync(mapped) ? mapped : path.dirname(mapped));
    if (!trusted && !insideFolder(real, fs.realpathSync(replayRoot))) refused.push(`the program ${mapped}, outside this project`);
    scriptArgs.push(mapped, ...header.argv.slice(2));
  }
  if (refused.length > 0) {
    const shown = refused.map((r) => (r.length > 100 ? `${r.slice(0, 100)}...` : r)).map((r) => JSON.stringify(r)).join(', ');
    throw new UsageError(`the recording asks Node.js to run ${shown}, which ${command} does not do for a recording unless you trust it: add --trust if you do`);
  }
  return { execArgv, scriptArgs };
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
export function runsInlineCode(execArgv: string[]): boolean {
  return execArgv.some((a) => /^(-e|-p|-pe|-ep|--eval|--print)(=|$)/.test(a));
}

/**
 * Whether the main module is here as Node would find it: `node lib/cli/bin` runs `lib/cli/bin.js`
 * and argv[1] keeps the name without its extension (a folder runs its package main or index).
 */
export function mainModuleExists(file: string): boolean {
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
