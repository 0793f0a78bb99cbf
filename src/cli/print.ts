// retrace print: replays a recording with a debugger attached in-process and prints the value of an
// expression each time execution reaches a source location, without changing the program.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LocationError, parseLocation, planBreakpoints, type BreakpointPlan } from '../inspect/location.js';
import { PRINT_ENV, type PrintReport, type PrintRequest } from '../inspect/print-protocol.js';
import { prepareReplay, type PreparedReplay } from './replay.js';
import { projectRootFor, UsageError } from './recording.js';

export interface PrintOptions {
  location: string;
  at: string;
  expr: string;
  hit: number | null;
  process: number | undefined;
  json: boolean;
  stallMs: number | undefined;
}

/** The program's own modules as files here (the recording names them by their recorded paths). */
export function programModules(urls: string[], recordedCwd: string, replayRoot: string): string[] {
  const out: string[] = [];
  for (const url of urls) {
    let file: string;
    try {
      file = url.startsWith('file:') ? fileURLToPath(url) : url;
    } catch {
      continue;
    }
    if (file === recordedCwd || file.startsWith(recordedCwd + path.sep)) file = replayRoot + file.slice(recordedCwd.length);
    out.push(file);
  }
  return out;
}

export async function run(o: PrintOptions): Promise<number> {
  const { prepared, plan } = planPrint(o);
  if (plan.movedTo !== null) process.stderr.write(`retrace: ${plan.display} has no code; stopping at line ${plan.movedTo}, the next line that has\n`);
  const outcome = await printHits(prepared, { plan, expr: o.expr, hit: o.hit, stopAfter: o.hit }, (r) => {
    if (o.json) process.stdout.write(`${JSON.stringify({ hit: r.hit, event: r.event, ...(r.error !== undefined ? { error: r.error } : { value: r.value, type: r.valueType }) })}\n`);
    else {
      const where = r.event < 0 ? 'before event 0' : `event ${r.event}`;
      const shown = r.error === undefined ? r.value : r.error.startsWith('not run:') ? r.error : `threw ${r.error}`;
      process.stdout.write(`hit ${r.hit} (${where}): ${shown}\n`);
    }
  });
  if (outcome.setupError) throw new UsageError(outcome.setupError);
  // What the replay itself said (divergence, truncation, stalls) matters to the reader of the values.
  for (const line of outcome.said) process.stderr.write(`${line}\n`);
  const problem = printProblem(outcome, plan, o.expr, o.hit);
  if (problem) throw new UsageError(problem);
  return 0;
}

/** Where `print` (and the MCP server's logpoint and evaluate) stops: the replay to run and the breakpoints. */
export function planPrint(o: { location: string; at: string; process: number | undefined; stallMs: number | undefined }): { prepared: PreparedReplay; plan: BreakpointPlan } {
  const prepared = prepareReplay({ location: o.location, process: o.process, nodeFlags: [], stallMs: o.stallMs });
  try {
    // A pack replays in its snapshot of the project: FILE is read there (else replayRoot is this folder).
    const here = projectRootFor(o.location);
    const position = parseLocation(o.at, here);
    const plan = planBreakpoints(position, programModules(prepared.trace.modules.map((m) => m.url), prepared.header.cwd, prepared.replayRoot), here, prepared.header.execArgv);
    return { prepared, plan };
  } catch (err) {
    if (err instanceof LocationError) throw new UsageError(err.message);
    throw err;
  }
}

/** One evaluated hit, as the debugger thread reported it. */
export type EvaluatedHit = Extract<PrintReport, { type: 'hit' }>;

/** How a print replay went: hits seen, evaluated and thrown, and what the replay itself said. */
export interface PrintOutcome {
  hits: number;
  evaluated: number;
  threw: number;
  firstError: string | null;
  setupError: string | null;
  /** The replay's own `retrace:` lines (a divergence, a truncated recording), unless it was stopped on purpose. */
  said: string[];
  /** The replay was ended after the hit `stopAfter`: there may be more hits. */
  stoppedEarly: boolean;
  movedTo: number | null;
}

/**
 * Replays with the debugger thread stopping at `plan`, calls `onHit` for each evaluated hit, and
 * ends the replay once hit `stopAfter` has been seen (its value cannot change what came before).
 */
export async function printHits(prepared: PreparedReplay, request: PrintRequest, onHit: (r: EvaluatedHit) => void): Promise<PrintOutcome> {
  const hook = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'inspect', 'print-hook.js')).href;
  const preload = prepared.args.findIndex((a) => a.startsWith('--require='));
  const nodeArgs = [...prepared.args.slice(0, preload + 1), `--import=${hook}`, ...prepared.args.slice(preload + 1)];
  const child = spawn(process.execPath, nodeArgs, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...prepared.env, [PRINT_ENV]: JSON.stringify(request) },
    cwd: prepared.replayRoot,
  });

  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const reports = child.stdio[3] as NodeJS.ReadableStream;
  let pending = '';
  const outcome: PrintOutcome = { hits: 0, evaluated: 0, threw: 0, firstError: null, setupError: null, said: [], stoppedEarly: false, movedTo: null };
  const onReport = (r: PrintReport) => {
    if (r.type === 'error') {
      outcome.setupError = r.message;
      return;
    }
    if (r.type === 'moved') {
      outcome.movedTo = r.line;
      return;
    }
    outcome.hits = Math.max(outcome.hits, r.hit);
    if (!r.skipped) {
      outcome.evaluated++;
      if (r.error !== undefined) {
        outcome.threw++;
        outcome.firstError ??= r.error;
      }
      onHit(r);
    }
    if (request.stopAfter !== null && r.hit >= request.stopAfter && !outcome.stoppedEarly) {
      // The hits asked for are printed: the rest of the replay cannot change them.
      outcome.stoppedEarly = true;
      child.kill('SIGKILL');
    }
  };
  reports.setEncoding('utf8');
  reports.on('data', (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line) onReport(JSON.parse(line) as PrintReport);
    }
  });
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve());
  });
  outcome.said = outcome.stoppedEarly ? [] : stderr.split('\n').filter((l) => l.startsWith('retrace:') && !l.startsWith('retrace: warning: worker threads'));
  return outcome;
}

/** The one-line reason a print answered nothing useful (the line never ran, no such hit, the expression always threw), or null. */
export function printProblem(outcome: PrintOutcome, plan: BreakpointPlan, expr: string, hit: number | null): string | null {
  const { hits, evaluated, threw, firstError, movedTo } = outcome;
  const stopped = outcome.said.find((l) => /diverged|stalled|recording ends here/.test(l));
  const upTo = stopped ? ' up to where the replay stopped' : '';
  if (hits === 0) {
    const moved = movedTo !== null ? ` (V8 could only stop at line ${movedTo} of that script instead: the line may hold no statement, or only code that never ran)` : '';
    return `${plan.display} never ran in this recording${upTo}${moved}`;
  }
  if (hit !== null && evaluated === 0) return `${plan.display} ran ${hits} time${hits === 1 ? '' : 's'} in this recording${upTo}; there is no hit ${hit}`;
  if (evaluated > 0 && threw === evaluated) {
    const at = evaluated === 1 ? 'the hit' : `all ${evaluated} hits`;
    const e = firstError ?? '';
    if (e.startsWith('not run: ')) return `the expression ${JSON.stringify(expr)} was not run at ${at}: ${e.slice('not run: '.length)}`;
    return `the expression ${JSON.stringify(expr)} threw at ${at}: ${e}`;
  }
  return null;
}
