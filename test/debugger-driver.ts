// Test support for debugger.test.ts, run as its own process so that it can share a network
// namespace with an offline replay (`unshare -n`): the inspector listens on the namespace's
// loopback, which nothing outside can reach. It starts `retrace replay --inspect-brk=0`,
// debugs it as VS Code or Chrome DevTools would (breakpoints in TypeScript set through the source
// map, evaluation on the paused frame, a step), and prints what it saw as JSON.
//
//   node dist/test/debugger-driver.js PLAN.json
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generatedPositionFor, InspectorSession, originalPositionFor, readSourceMap, type Mapping } from './inspector-client.js';

export interface DebugPlan {
  cwd: string;
  /** The replay command: node and its arguments (retrace's bin, replay, DIR, --inspect-brk=0...). */
  command: string[];
  env: Record<string, string>;
  /**
   * How the program waits for the debugger: 'break' stops on its first line (--inspect-brk, as for
   * Chrome DevTools); 'wait' holds it before it runs until the debugger says go (what VS Code's
   * bootloader does with inspector.waitForDebugger()), with no first pause.
   */
  start: 'break' | 'wait';
  breakpoints: Array<{
    /** The script V8 runs: compiled, with its .map beside it, or the source itself. */
    generated: string;
    /** The TypeScript file and line (from 1) to stop at. */
    source: string;
    line: number;
    /** Expressions evaluated on the paused frame, at the breakpoint and after one step over. */
    evaluate: string[];
    /** How long to stay paused at each hit, in ms. */
    holdMs: number;
  }>;
}

export interface Stop {
  reason: string;
  /** The original position when the script has a source map, else the script's own (lines from 1). */
  file: string;
  line: number;
  values: Record<string, unknown>;
}

export interface DebugReport {
  firstPause: Stop | null;
  /** Per breakpoint: where V8 bound it in the generated script (lines from 0). */
  bound: Array<Array<{ lineNumber: number; columnNumber?: number }>>;
  hits: Array<{ breakpoint: number; atBreakpoint: Stop; afterStepOver: Stop }>;
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

let replayGroup: number | undefined;
function killReplay(): void {
  try {
    if (replayGroup !== undefined) process.kill(-replayGroup, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function main(planFile: string): Promise<DebugReport> {
  const plan = JSON.parse(fs.readFileSync(planFile, 'utf8')) as DebugPlan;
  const [command, ...args] = plan.command as [string, ...string[]];
  // A process group of its own, so that a replay that hangs goes away whole, its program included.
  const child = spawn(command, args, { cwd: plan.cwd, env: { ...process.env, ...plan.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  replayGroup = child.pid;
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8');
  const exited = new Promise<{ status: number | null; signal: string | null }>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal })),
  );
  const killer = setTimeout(killReplay, 60_000);

  // After the program ends, Node keeps the process for the debugger until it disconnects.
  let programEnded!: () => void;
  const ended = new Promise<void>((resolve) => (programEnded = resolve));
  void exited.then(() => programEnded());
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (c: string) => {
      stderr += c;
      const m = /Debugger listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
      if (/Waiting for the debugger to disconnect/.test(stderr)) programEnded();
    });
    void exited.then(() => reject(new Error(`the replay exited before its inspector listened:\n${stderr}`)));
  });
  const session = await InspectorSession.connect(url);

  // Source maps of the scripts V8 loads, as a debugger reads them.
  const maps = new Map<string, Mapping[]>();
  const mapsFor = (scriptUrl: string): Mapping[] | undefined => {
    if (!scriptUrl.startsWith('file:')) return undefined;
    const file = fileURLToPath(scriptUrl);
    if (!maps.has(file)) maps.set(file, fs.existsSync(`${file}.map`) ? readSourceMap(file) : []);
    return maps.get(file);
  };
  const scriptUrls = new Map<string, string>();
  const trackScripts = () => {
    for (const s of session.drain('Debugger.scriptParsed')) scriptUrls.set(String(s.scriptId), String(s.url));
  };

  const describeStop = async (paused: Record<string, unknown>, evaluate: string[]): Promise<Stop> => {
    trackScripts();
    const frame = (paused.callFrames as Array<{ callFrameId: string; location: { scriptId: string; lineNumber: number; columnNumber: number } }>)[0]!;
    const scriptUrl = scriptUrls.get(frame.location.scriptId) ?? '';
    const original = originalPositionFor(mapsFor(scriptUrl) ?? [], frame.location.lineNumber, frame.location.columnNumber);
    const values: Record<string, unknown> = {};
    for (const expression of evaluate) {
      const r = await session.send<{ result: { value?: unknown; description?: string }; exceptionDetails?: unknown }>('Debugger.evaluateOnCallFrame', {
        callFrameId: frame.callFrameId,
        expression,
        returnByValue: true,
        throwOnSideEffect: true,
      });
      values[expression] = r.exceptionDetails ? { error: r.result.description } : r.result.value;
    }
    return {
      reason: String(paused.reason),
      file: original?.source ?? (scriptUrl.startsWith('file:') ? fileURLToPath(scriptUrl) : scriptUrl),
      line: original?.line ?? frame.location.lineNumber + 1,
      values,
    };
  };

  await session.send('Runtime.enable');
  await session.send('Debugger.enable');
  let firstPause: Stop | null = null;
  if (plan.start === 'break') {
    await session.send('Runtime.runIfWaitingForDebugger');
    firstPause = await describeStop(await session.next('Debugger.paused'), []);
  }

  const bound: DebugReport['bound'] = [];
  const ids = new Map<string, number>();
  for (const [i, bp] of plan.breakpoints.entries()) {
    // Through the source map for compiled code; a plain script is its own source.
    const at = fs.existsSync(`${bp.generated}.map`)
      ? generatedPositionFor(readSourceMap(bp.generated), bp.source, bp.line)
      : { line: bp.line - 1, column: 0 };
    if (!at) throw new Error(`the source map of ${bp.generated} maps nothing to ${bp.source}:${bp.line}`);
    const r = await session.send<{ breakpointId: string; locations: Array<{ lineNumber: number; columnNumber?: number }> }>(
      'Debugger.setBreakpointByUrl',
      { url: pathToFileURL(bp.generated).href, lineNumber: at.line, columnNumber: at.column },
    );
    ids.set(r.breakpointId, i);
    bound.push(r.locations);
  }

  const hits: DebugReport['hits'] = [];
  // Breakpoints are set before the program's code runs: let it go.
  await session.send(plan.start === 'break' ? 'Debugger.resume' : 'Runtime.runIfWaitingForDebugger');
  for (;;) {
    const paused = await Promise.race([session.next('Debugger.paused', 60_000), ended.then(() => undefined)]);
    if (!paused) break;
    const index = (paused.hitBreakpoints as string[] | undefined)?.map((id) => ids.get(id)).find((i) => i !== undefined);
    if (index === undefined) {
      await session.send('Debugger.resume');
      continue;
    }
    const bp = plan.breakpoints[index]!;
    const atBreakpoint = await describeStop(paused, bp.evaluate);
    await new Promise((resolve) => setTimeout(resolve, bp.holdMs));
    await session.send('Debugger.stepOver');
    const afterStepOver = await describeStop(await session.next('Debugger.paused'), bp.evaluate);
    hits.push({ breakpoint: index, atBreakpoint, afterStepOver });
    await session.send('Debugger.resume');
  }
  session.close();
  const { status, signal } = await exited;
  clearTimeout(killer);
  return { firstPause, bound, hits, status, signal, stdout, stderr };
}

main(process.argv[2]!).then(
  (report) => process.stdout.write(JSON.stringify(report)),
  (err: Error) => {
    process.stderr.write(`debugger-driver: ${err.stack ?? err.message}\n`);
    killReplay();
    process.exit(1);
  },
);
