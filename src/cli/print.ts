// retrace print: replays a recording with a debugger attached in-process and prints the value of an
// expression each time execution reaches a source location, without changing the program.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LocationError, parseLocation, planBreakpoints, type BreakpointPlan } from '../inspect/location.js';
import { PRINT_ENV, type PrintReport, type PrintRequest } from '../inspect/print-protocol.js';
import { prepareReplay } from './replay.js';
import { UsageError } from './recording.js';

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
  const prepared = prepareReplay({ location: o.location, process: o.process, nodeFlags: [], stallMs: o.stallMs });
  let plan: BreakpointPlan;
  try {
    const position = parseLocation(o.at);
    plan = planBreakpoints(position, programModules(prepared.trace.modules.map((m) => m.url), prepared.header.cwd, prepared.replayRoot), process.cwd(), prepared.header.execArgv);
  } catch (err) {
    if (err instanceof LocationError) throw new UsageError(err.message);
    throw err;
  }
  if (plan.movedTo !== null) process.stderr.write(`retrace: ${plan.display} has no code; stopping at line ${plan.movedTo}, the next line that has\n`);

  const request: PrintRequest = { plan, expr: o.expr, hit: o.hit };
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
  let hits = 0;
  let evaluated = 0;
  let threw = 0;
  let firstError: string | null = null;
  let setupError: string | null = null;
  let stoppedEarly = false;
  let movedTo: number | null = null;
  const out: string[] = [];
  const flush = () => {
    if (out.length) process.stdout.write(out.splice(0).join(''));
  };
  const onReport = (r: PrintReport) => {
    if (r.type === 'error') {
      setupError = r.message;
      return;
    }
    if (r.type === 'moved') {
      movedTo = r.line;
      return;
    }
    hits = Math.max(hits, r.hit);
    if (r.skipped) return;
    evaluated++;
    if (r.error !== undefined) {
      threw++;
      firstError ??= r.error;
    }
    if (o.json) out.push(`${JSON.stringify({ hit: r.hit, event: r.event, ...(r.error !== undefined ? { error: r.error } : { value: r.value, type: r.valueType }) })}\n`);
    else {
      const where = r.event < 0 ? 'before event 0' : `event ${r.event}`;
      const shown = r.error === undefined ? r.value : r.error.startsWith('not run:') ? r.error : `threw ${r.error}`;
      out.push(`hit ${r.hit} (${where}): ${shown}\n`);
    }
    flush();
    if (o.hit !== null && r.hit >= o.hit) {
      // The hit asked for is printed: the rest of the replay cannot change it.
      stoppedEarly = true;
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
  flush();

  if (setupError) throw new UsageError(setupError);
  // What the replay itself said (divergence, truncation, stalls) matters to the reader of the values.
  const said = stoppedEarly ? [] : stderr.split('\n').filter((l) => l.startsWith('retrace:') && !l.startsWith('retrace: warning: worker threads'));
  for (const line of said) process.stderr.write(`${line}\n`);
  const stopped = said.find((l) => /diverged|stalled|recording ends here/.test(l));
  const upTo = stopped ? ' up to where the replay stopped' : '';
  if (hits === 0) {
    const moved = movedTo !== null ? ` (V8 could only stop at line ${movedTo} of that script instead: the line may hold no statement, or only code that never ran)` : '';
    throw new UsageError(`${plan.display} never ran in this recording${upTo}${moved}`);
  }
  if (o.hit !== null && evaluated === 0) throw new UsageError(`${plan.display} ran ${hits} time${hits === 1 ? '' : 's'} in this recording${upTo}; there is no hit ${o.hit}`);
  if (evaluated > 0 && threw === evaluated) {
    const at = evaluated === 1 ? 'the hit' : `all ${evaluated} hits`;
    const e = firstError ?? '';
    if (e.startsWith('not run: ')) throw new UsageError(`the expression ${JSON.stringify(o.expr)} was not run at ${at}: ${e.slice('not run: '.length)}`);
    throw new UsageError(`the expression ${JSON.stringify(o.expr)} threw at ${at}: ${e}`);
  }
  return 0;
}
