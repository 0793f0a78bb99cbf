// The Debug Adapter Protocol server of `retrace dap`: a debugger for a recording that can go
// backwards. The replay is deterministic, so every stop is reproducible from the start by the list
// of moves (resume, step over/into/out, with which breakpoints were active) that reached it, and
// going back is going forward again in a fresh replay: step back re-runs the moves of the previous
// stop; reverse continue re-runs the current stop's moves counting the passes of every breakpoint
// (each breakpoint's condition counts them, hook.ts), then runs to the last pass before the stop;
// run-to-event pauses when the replay consumes that event; last write asks the provenance engine
// where a value was stored and runs to the last time that statement ran. A spare replay, started and
// waiting before the program's first line, saves the process start on each re-execution.
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  Breakpoint,
  DebugSession,
  Handles,
  InitializedEvent,
  OutputEvent,
  Scope,
  Source,
  StackFrame,
  StoppedEvent,
  TerminatedEvent,
  Thread,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { prepareReplay, type PreparedReplay } from '../../cli/replay.js';
import { programModules } from '../../cli/print.js';
import { loadSourceMap, LocationError, parseLocation, planBreakpoints, SourceMapIndex } from '../location.js';
import { lastWrite, LastWriteError } from '../last-write.js';
import { processTimeline } from '../timeline.js';
import { conditionFor, EVENT_PAUSE_FUNCTION, EXIT_PAUSE_FUNCTION, MAX_BREAKPOINTS, modeSlot, MODE_ALWAYS, observedSlot, Slot } from './protocol.js';
import { ReplayProcess, type CdpCallFrame, type Ended, type Paused } from './replay-process.js';

/** What `launch` takes (the VS Code extension's configuration, or any DAP client's). */
export interface RetraceLaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** The recording folder (default: the one `retrace dap` was given, else ./recording). */
  recording?: string;
  /** The project folder the recording was made in (default: the adapter's working folder). */
  cwd?: string;
  process?: number;
  stallMs?: number;
}

/** A place in the program's code where V8 stops: a script and a position in it (from 0). */
interface BreakLocation {
  id: number;
  urlRegex: string;
  line: number;
  column: number;
}

type MoveKind = 'resume' | 'stepOver' | 'stepInto' | 'stepOut';

/** One step of a recipe: how to go from one stop to the next. */
interface Move {
  kind: MoveKind;
  /** Breakpoint locations that may pause during the move: always (-1), or at their n-th pass. */
  modes: [id: number, mode: number][];
  /** Pause when the replay consumes this event. */
  target?: number;
  /** Go on stepping into the program's code when the pause is elsewhere (Node's, retrace's, node_modules). */
  toUser: boolean;
}

/** A place the debugger stopped at, with the moves from the start that reach it again. */
interface Stop {
  moves: Move[];
  /** The last recorded event the replay had consumed. */
  event: number;
  reason: string;
  description: string;
  /** Paused at the program's end (in the hook's exit pause). */
  ended: boolean;
}

/** A replay run ahead to a stop, to be taken over by a re-execution that passes there. */
interface Checkpoint {
  moves: Move[];
  /** Its process, once it has one. */
  process: ReplayProcess | null;
  reached: Promise<{ rp: ReplayProcess; outcome: Outcome }>;
  /** The checkpoint it went on from, when it did. */
  chained?: Checkpoint | null;
}

interface Outcome {
  pause: Paused | Ended;
  /** The pause came from reaching the target event. */
  atEvent: boolean;
}

const THREAD_ID = 1;
/** Steps into the program's code after a pause elsewhere, at most. */
const MAX_STEPS_TO_PROGRAM = 20_000;

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const hookFile = path.join(distRoot, 'inspect', 'dap', 'hook.js');

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Scripts stepping goes through without stopping: retrace's own (but the hook, whose pauses are ours) and dependencies. */
const BLACKBOX_PATTERNS = [
  `^(${escapeRegex(pathToFileURL(distRoot).href)}|${escapeRegex(distRoot)})/(?!inspect/dap/hook\\.js)`,
  '/node_modules/',
];

export class RetraceDebugSession extends DebugSession {
  private prepared: PreparedReplay | null = null;
  private recording: string;
  private processNumber: number | undefined;
  private stallMs: number | undefined;
  private cwd = process.cwd();
  private modules: string[] = [];
  private live: ReplayProcess | null = null;
  private spare: Promise<ReplayProcess> | null = null;
  /** A replay run ahead to the stop before the current one (a step back's destination), in the background. */
  private checkpoint: Checkpoint | null = null;
  private readonly locations: BreakLocation[] = [];
  private readonly locationByKey = new Map<string, BreakLocation>();
  /** The client's breakpoints by source file: the locations each line became. */
  private readonly userBreakpoints = new Map<string, number[][]>();
  /** Stops visited, earliest first in the program's time; the last one is the current stop. */
  private history: Stop[] = [];
  private handles = new Handles<{ objectId: string }>();
  private readonly sourceMaps = new Map<string, SourceMapIndex | null>();
  private busy: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(recording: string | undefined) {
    super();
    this.recording = recording ?? 'recording';
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
  }

  private get current(): Stop | null {
    return this.history.at(-1) ?? null;
  }

  // ---- requests ----

  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsStepBack: true,
      supportsEvaluateForHovers: true,
      supportsTerminateRequest: true,
      supportsRestartRequest: false,
      supportsConditionalBreakpoints: false,
      supportsHitConditionalBreakpoints: false,
    };
    this.sendResponse(response);
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: RetraceLaunchArguments): Promise<void> {
    try {
      if (args.cwd) this.cwd = path.resolve(args.cwd);
      if (args.recording) this.recording = args.recording;
      this.processNumber = args.process;
      this.stallMs = args.stallMs;
      // Replay runs from the project folder, as `retrace replay` does from its working folder.
      process.chdir(this.cwd);
      this.prepared = prepareReplay({ location: path.resolve(this.cwd, this.recording), process: this.processNumber, nodeFlags: [], stallMs: this.stallMs });
      const { trace, header, replayRoot } = this.prepared;
      this.modules = programModules(trace.modules.map((m) => m.url), header.cwd, replayRoot);
      this.live = await this.startProcess();
      this.forwardOutput(this.live);
      this.spare = this.startProcess();
      this.spare.catch(() => {});
    } catch (err) {
      this.sendErrorResponse(response, 1, (err as Error).message);
      return;
    }
    this.sendResponse(response);
    this.sendEvent(new InitializedEvent());
  }

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    void this.serial(async () => {
      const file = args.source.path ? path.resolve(this.cwd, args.source.path) : null;
      const wanted = args.breakpoints ?? (args.lines ?? []).map((line) => ({ line }));
      const result: DebugProtocol.Breakpoint[] = [];
      const perLine: number[][] = [];
      for (const bp of wanted) {
        if (!file) {
          result.push({ verified: false, message: 'breakpoints need a source file' });
          continue;
        }
        try {
          const plan = planBreakpoints(parseLocation(`${file}:${bp.line}`, this.cwd), this.modules, this.cwd, this.prepared?.header.execArgv ?? []);
          const ids: number[] = [];
          for (const b of plan.byUrl) ids.push((await this.locationFor(b.urlRegex, b.line, b.column)).id);
          perLine.push(ids);
          const made = new Breakpoint(true, plan.movedTo ?? bp.line) as DebugProtocol.Breakpoint;
          made.source = args.source;
          result.push(made);
        } catch (err) {
          if (!(err instanceof LocationError)) throw err;
          result.push({ verified: false, line: bp.line, message: err.message });
        }
      }
      if (file) this.userBreakpoints.set(file, perLine);
      response.body = { breakpoints: result };
      this.sendResponse(response);
    }, response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    void this.serial(async () => {
      const move: Move = { kind: 'resume', modes: this.userModes(), toUser: false };
      const outcome = await this.execute(this.live!, move, true);
      this.arrive([move], outcome, 'breakpoint');
    });
  }

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    response.body = { threads: [new Thread(THREAD_ID, 'main')] };
    this.sendResponse(response);
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    this.forward(response, { kind: 'resume', modes: this.userModes(), toUser: false }, 'breakpoint');
  }

  protected override nextRequest(response: DebugProtocol.NextResponse): void {
    this.forward(response, { kind: 'stepOver', modes: this.userModes(), toUser: true }, 'step');
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse): void {
    this.forward(response, { kind: 'stepInto', modes: this.userModes(), toUser: true }, 'step');
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse): void {
    this.forward(response, { kind: 'stepOut', modes: this.userModes(), toUser: true }, 'step');
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.sendErrorResponse(response, 2, 'a running replay cannot be paused at an arbitrary moment and found again: set a breakpoint, or run to an event of the timeline');
  }

  protected override stepBackRequest(response: DebugProtocol.StepBackResponse): void {
    void this.serial(async () => {
      if (this.history.length < 2) throw new Error('this is the first stop of the session: there is no earlier stop to step back to (reverse continue runs back to a breakpoint)');
      this.sendResponse(response);
      const previous = this.history[this.history.length - 2]!;
      const { rp, outcome } = await this.reexecute(previous.moves);
      this.swap(rp);
      this.history.pop();
      this.history.pop();
      this.arrive(previous.moves, outcome, 'step', { keep: true });
    }, response);
  }

  protected override reverseContinueRequest(response: DebugProtocol.ReverseContinueResponse): void {
    void this.serial(async () => {
      const here = this.current!;
      const observed = this.userLocationIds();
      if (observed.length === 0) throw new Error('there are no breakpoints to run back to');
      const target = await this.lastPassBefore(here, observed);
      if (!target) throw new Error('no breakpoint was hit before this point');
      this.sendResponse(response);
      const moves: Move[] = [{ kind: 'resume', modes: [[target.id, target.count]], toUser: false }];
      const { rp, outcome } = await this.reexecute(moves);
      this.swap(rp);
      this.arrive(moves, outcome, 'breakpoint', { rewind: true });
    }, response);
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    const paused = this.live?.paused;
    if (!paused) {
      response.body = { stackFrames: [], totalFrames: 0 };
      this.sendResponse(response);
      return;
    }
    const frames = paused.callFrames.map((f, i) => this.stackFrame(f, i));
    const start = args.startFrame ?? 0;
    const end = args.levels ? start + args.levels : frames.length;
    response.body = { stackFrames: frames.slice(start, end), totalFrames: frames.length };
    this.sendResponse(response);
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
    const frame = this.live?.paused?.callFrames[args.frameId];
    const scopes: DebugProtocol.Scope[] = [];
    for (const s of frame?.scopeChain ?? []) {
      if (!s.object.objectId) continue;
      const name = s.type === 'local' ? 'Local' : s.type === 'closure' ? `Closure${s.name ? ` (${s.name})` : ''}` : s.type === 'global' ? 'Global' : s.type[0]!.toUpperCase() + s.type.slice(1);
      scopes.push(new Scope(name, this.handles.create({ objectId: s.object.objectId }), s.type === 'global'));
    }
    response.body = { scopes };
    this.sendResponse(response);
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    void this.serial(async () => {
      const ref = this.handles.get(args.variablesReference);
      const variables: DebugProtocol.Variable[] = [];
      if (ref && this.live?.paused) {
        const r = await this.live.send<{ result: PropertyDescriptor[] }>('Runtime.getProperties', { objectId: ref.objectId, ownProperties: true, generatePreview: false });
        for (const p of r.result) {
          if (!p.value) continue;
          variables.push({ name: p.name, value: describe(p.value), type: p.value.subtype ?? p.value.type, variablesReference: this.referenceOf(p.value) });
        }
      }
      response.body = { variables };
      this.sendResponse(response);
    }, response);
  }

  protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    void this.serial(async () => {
      const paused = this.live?.paused;
      if (!paused) throw new Error('the replay is not paused');
      const frame = paused.callFrames[args.frameId ?? 0] ?? paused.callFrames[0]!;
      // Side-effect free always: a call into anything recorded would not match the recording, and
      // a re-execution could not reproduce what the evaluation changed.
      const r = await this.live!.send<{ result: RemoteObject; exceptionDetails?: { text: string; exception?: RemoteObject } }>('Debugger.evaluateOnCallFrame', {
        callFrameId: frame.callFrameId,
        expression: args.expression,
        throwOnSideEffect: true,
        silent: true,
      });
      if (r.exceptionDetails) {
        const e = r.exceptionDetails.exception;
        const text = e?.className === 'EvalError' && /side-effect/i.test(e.description ?? '') ? 'not evaluated: it could change the program (a recorded call or a write); the debugger evaluates side-effect-free expressions only' : (e?.description ?? r.exceptionDetails.text).split('\n')[0]!;
        throw new Error(text);
      }
      response.body = { result: describe(r.result), type: r.result.subtype ?? r.result.type, variablesReference: this.referenceOf(r.result) };
      this.sendResponse(response);
    }, response);
  }

  protected override customRequest(command: string, response: DebugProtocol.Response, args: Record<string, unknown> | undefined): void {
    switch (command) {
      case 'retrace/runToEvent':
        return this.runToEvent(response, args ?? {});
      case 'retrace/lastWrite':
        return this.lastWriteRequest(response, args ?? {});
      case 'retrace/timeline':
        return this.timelineRequest(response, args ?? {});
      case 'retrace/where':
        response.body = this.current ? { event: this.current.event, stops: this.history.length, ended: this.current.ended } : { event: null };
        return this.sendResponse(response);
      default:
        this.sendErrorResponse(response, 3, `unknown request ${command}`);
    }
  }

  protected override terminateRequest(response: DebugProtocol.TerminateResponse): void {
    this.endReplays();
    this.sendResponse(response);
    this.sendEvent(new TerminatedEvent());
  }

  protected override disconnectRequest(response: DebugProtocol.DisconnectResponse): void {
    this.endReplays();
    this.sendResponse(response);
  }

  // ---- custom requests ----

  /** `retrace/runToEvent {event}`: pause where the program makes or receives that event of the timeline. */
  private runToEvent(response: DebugProtocol.Response, args: Record<string, unknown>): void {
    void this.serial(async () => {
      const event = args.event;
      if (typeof event !== 'number' || !Number.isInteger(event) || event < 0) throw new Error('retrace/runToEvent takes {"event": N}, N an event number of the timeline');
      const here = this.current;
      const move: Move = { kind: 'resume', modes: [], target: event, toUser: true };
      let rp: ReplayProcess;
      let outcome: Outcome;
      let moves: Move[];
      if (here && !here.ended && event > here.event) {
        rp = this.live!;
        moves = [...here.moves, move];
        outcome = await this.execute(rp, move, false);
      } else {
        moves = [move];
        ({ rp, outcome } = await this.reexecute(moves));
      }
      if (!outcome.atEvent) {
        // Not consumed by the program's code (the preload reads the environment before it starts,
        // some events are bookkeeping), or past the end: back to where we were.
        if (here) {
          const back = await this.reexecute(here.moves);
          if (rp !== this.live) rp.kill();
          this.swap(back.rp);
        } else if (rp !== this.live) rp.kill();
        throw new Error(`the replay never consumed event ${event} in the program: it may come before the program's first line (the environment, the clock origin), or not be one the program waits for; pick another event of the timeline`);
      }
      if (rp !== this.live) this.swap(rp);
      response.body = { event: (outcome.pause as Paused).event };
      this.sendResponse(response);
      this.arrive(moves, outcome, 'goto', { rewind: moves.length === 1, description: `event ${event}` });
    }, response);
  }

  /** `retrace/lastWrite {expression, frameId?}`: run back to the statement that stored the value the expression reads. */
  private lastWriteRequest(response: DebugProtocol.Response, args: Record<string, unknown>): void {
    void this.serial(async () => {
      const expression = args.expression;
      if (typeof expression !== 'string' || !expression.trim()) throw new Error('retrace/lastWrite takes {"expression": "order.total"}');
      const here = this.current;
      const paused = this.live?.paused;
      if (!here || !paused) throw new Error('the replay is not paused');
      const frameIndex = typeof args.frameId === 'number' ? args.frameId : 0;
      const frame = paused.callFrames[frameIndex];
      if (!frame) throw new Error(`there is no frame ${frameIndex}`);
      const at = this.sourcePosition(this.live!, frame);
      if (!at) throw new Error('the paused frame is not in a source file');

      // Which time the paused line ran: its passes up to here, counted in a re-execution.
      const lineIds = await this.lineLocations(at.path, at.line);
      const hitHere = await this.lastPassBefore(here, lineIds, { includeHere: true });
      if (!hitHere) throw new Error(`${at.path}:${at.line} is not a line the debugger can stop at`);

      let answer;
      try {
        answer = await lastWrite({ recording: path.resolve(this.cwd, this.recording), process: this.processNumber, file: at.path, line: at.line, hit: hitHere.count, expression, cwd: this.cwd });
      } catch (err) {
        if (err instanceof LastWriteError) throw new Error(`last write of ${expression}: ${err.message}`);
        throw err;
      }
      const point = answer.stored ?? answer.made;
      if (!point) throw new Error(`${expression} = ${answer.value} was not stored by the program's code (${answer.origin ?? answer.op})`);
      const storeIds = await this.lineLocations(point.file, point.line);
      const target = await this.lastPassBefore(here, storeIds);
      if (!target) throw new Error(`${path.relative(this.cwd, point.file)}:${point.line} did not run before this point`);
      const moves: Move[] = [{ kind: 'resume', modes: [[target.id, target.count]], toUser: false }];
      const { rp, outcome } = await this.reexecute(moves);
      this.swap(rp);
      const where = `${path.relative(this.cwd, point.file)}:${point.line}`;
      response.body = {
        expression,
        value: answer.value,
        stored: answer.stored,
        made: answer.made,
        op: answer.op,
        origin: answer.origin,
        pass: target.count,
        event: 'event' in outcome.pause ? outcome.pause.event : null,
      };
      this.sendResponse(response);
      this.arrive(moves, outcome, 'goto', { rewind: true, description: `last write of ${expression} (${answer.value}) at ${where}` });
    }, response);
  }

  /** `retrace/timeline {from?, limit?}`: the recording's events as `retrace show` lists them, for a timeline view. */
  private timelineRequest(response: DebugProtocol.Response, args: Record<string, unknown>): void {
    try {
      if (!this.prepared) throw new Error('launch first');
      const from = typeof args.from === 'number' ? args.from : 0;
      const limit = typeof args.limit === 'number' ? Math.min(args.limit, 5000) : 500;
      const entries: { event: number; time: number; kind: string; summary: string }[] = [];
      let more = false;
      for (const e of processTimeline(this.prepared.trace)) {
        if (e.event < from) continue;
        if (entries.length >= limit) {
          more = true;
          break;
        }
        entries.push({ event: e.event, time: e.time, kind: e.kind, summary: e.summary });
      }
      response.body = { entries, more };
      this.sendResponse(response);
    } catch (err) {
      this.sendErrorResponse(response, 4, (err as Error).message);
    }
  }

  // ---- moves and re-execution ----

  /** Runs requests one at a time: each may re-execute the replay, and the next must see its result. */
  private serial(work: () => Promise<void>, response?: DebugProtocol.Response): Promise<void> {
    const run = this.busy.then(work).catch((err: Error) => {
      if (response) this.sendErrorResponse(response, 5, err.message);
      else this.say(`${err.message}\n`);
    });
    this.busy = run;
    return run;
  }

  private forward(response: DebugProtocol.Response, move: Move, reason: string): void {
    void this.serial(async () => {
      const here = this.current;
      if (!here) throw new Error('the replay has not stopped yet');
      this.sendResponse(response);
      if (here.ended && move.kind === 'resume') {
        this.finish(null);
        return;
      }
      const outcome = await this.execute(this.live!, move, false);
      this.arrive([...here.moves, move], outcome, reason);
    }, response);
  }

  private userModes(): [number, number][] {
    return this.userLocationIds().map((id) => [id, MODE_ALWAYS]);
  }

  private userLocationIds(): number[] {
    const ids = new Set<number>();
    for (const lines of this.userBreakpoints.values()) for (const line of lines) for (const id of line) ids.add(id);
    return [...ids];
  }

  private async lineLocations(file: string, line: number): Promise<number[]> {
    let plan;
    try {
      plan = planBreakpoints(parseLocation(`${file}:${line}`, this.cwd), this.modules, this.cwd, this.prepared!.header.execArgv);
    } catch (err) {
      if (err instanceof LocationError) throw new Error(err.message);
      throw err;
    }
    const ids: number[] = [];
    for (const b of plan.byUrl) ids.push((await this.locationFor(b.urlRegex, b.line, b.column)).id);
    return ids;
  }

  /** A breakpoint location, made once per session and set in every replay process from its start. */
  private async locationFor(urlRegex: string, line: number, column: number): Promise<BreakLocation> {
    const key = `${urlRegex}\n${line}\n${column}`;
    let loc = this.locationByKey.get(key);
    if (loc) return loc;
    if (this.locations.length + 1 >= MAX_BREAKPOINTS) throw new Error(`at most ${MAX_BREAKPOINTS - 1} breakpoint locations in one session`);
    loc = { id: this.locations.length + 1, urlRegex, line, column };
    this.locations.push(loc);
    this.locationByKey.set(key, loc);
    // The running replay gets it now (counting from here: only re-executions count from the start).
    if (this.live && !this.live.exit) await this.setLocation(this.live, loc);
    return loc;
  }

  private async setLocation(rp: ReplayProcess, loc: BreakLocation): Promise<void> {
    if (rp.breakpoints.has(loc.id)) return;
    rp.breakpoints.set(loc.id, { v8Id: '', resolved: [] });
    const r = await rp.send<{ breakpointId: string; locations: { scriptId: string; lineNumber: number; columnNumber?: number }[] }>('Debugger.setBreakpointByUrl', {
      urlRegex: loc.urlRegex,
      lineNumber: loc.line,
      columnNumber: loc.column,
      condition: conditionFor(loc.id),
    });
    const entry = rp.breakpoints.get(loc.id)!;
    entry.v8Id = r.breakpointId;
    entry.resolved.push(...r.locations);
  }

  /** A replay process waiting before the program's first line, with every location set. */
  private async startProcess(): Promise<ReplayProcess> {
    const rp = new ReplayProcess(this.prepared!, this.stallMs);
    await rp.ready;
    await rp.send('Debugger.setBlackboxPatterns', { patterns: BLACKBOX_PATTERNS });
    await rp.setShared([[Slot.PauseAtExit, 1]]);
    for (let i = 0; i < this.locations.length; i++) await this.setLocation(rp, this.locations[i]!);
    return rp;
  }

  /** The spare process (locations added since it started are set now), and a new spare behind it. */
  private async takeSpare(): Promise<ReplayProcess> {
    // Taken at once: two re-executions at the same time (a request, the checkpoint) get two
    // processes. The next spare starts after the stop is shown (arrive), not while this one works.
    const waiting = this.spare;
    this.spare = null;
    let rp = waiting ? await waiting.catch(() => null) : null;
    if (!rp || rp.exit) rp = await this.startProcess();
    for (const loc of this.locations) await this.setLocation(rp, loc);
    return rp;
  }

  private ensureSpare(): void {
    if (this.spare || this.closed) return;
    this.spare = this.startProcess();
    this.spare.catch(() => {});
  }

  /** Runs one move in a process; the first move of a process lets the program start. */
  private async execute(rp: ReplayProcess, move: Move, first: boolean): Promise<Outcome> {
    const set: [number, number][] = this.locations.map((l) => [modeSlot(l.id), 0]);
    for (const [id, mode] of move.modes) set.push([modeSlot(id), mode]);
    set.push([Slot.TargetEvent, move.target ?? -1]);
    await rp.setShared(set);
    let next = rp.nextPause();
    if (first) rp.go();
    else await rp.send(`Debugger.${move.kind}`);
    let pause = await next;
    let atEvent = false;
    if (!('exited' in pause) && pause.callFrames[0]?.functionName === EVENT_PAUSE_FUNCTION && rp.scriptFile(pause.callFrames[0]) === hookFile) atEvent = true;
    if (move.toUser) {
      for (let i = 0; i < MAX_STEPS_TO_PROGRAM && !('exited' in pause) && !this.isProgramCode(rp, pause.callFrames[0]!) && !isExitPause(rp, pause); i++) {
        next = rp.nextPause();
        await rp.send('Debugger.stepInto');
        pause = await next;
      }
    }
    return { pause, atEvent };
  }

  /**
   * A replay taken through `moves`; the caller makes it the live one (swap) or drops it. The
   * checkpoint is used when it stands on the way (its moves begin `moves`), else the spare waiting
   * at the start. With `observed`, breakpoint passes must count from the start: always the spare.
   */
  private async reexecute(moves: Move[], observed: number[] = []): Promise<{ rp: ReplayProcess; outcome: Outcome }> {
    const checkpoint = this.checkpoint;
    if (observed.length === 0 && checkpoint && isPrefix(checkpoint.moves, moves)) {
      // Taken once reached: until then it is still the current checkpoint, so that the replays it
      // goes on from do not take themselves for given up.
      const reached = await checkpoint.reached.catch(() => null);
      if (this.checkpoint === checkpoint) this.checkpoint = null;
      if (reached && !reached.rp.exit && !('exited' in reached.outcome.pause)) {
        for (const loc of this.locations) await this.setLocation(reached.rp, loc);
        let outcome = reached.outcome;
        for (let i = checkpoint.moves.length; i < moves.length && !('exited' in outcome.pause); i++) outcome = await this.execute(reached.rp, moves[i]!, false);
        return { rp: reached.rp, outcome };
      }
      reached?.rp.kill();
    }
    const rp = await this.takeSpare();
    if (observed.length) await rp.setShared(observed.map((id) => [observedSlot(id), 1]));
    let outcome: Outcome | null = null;
    for (let i = 0; i < moves.length; i++) {
      outcome = await this.execute(rp, moves[i]!, i === 0);
      if ('exited' in outcome.pause) break;
    }
    return { rp, outcome: outcome! };
  }

  /**
   * Keeps the checkpoint at the stop before the current one, where a step back goes: moved on from
   * where it is when that is on the way, else replayed from the start, in the background.
   */
  private advanceCheckpoint(): void {
    const target = this.history.at(-2);
    const old = this.checkpoint;
    // RETRACE_DAP_CHECKPOINT=0: no checkpoint (bench/dap.mjs measures what it saves).
    if (!target || this.closed || process.env.RETRACE_DAP_CHECKPOINT === '0') return;
    if (old && sameMoves(old.moves, target.moves)) return;
    const chained = old && isPrefix(old.moves, target.moves) ? old : null;
    // Given up on: its process ends now (a reached() still on its way then fails, and is dropped).
    if (old && !chained) old.process?.kill();
    const moves = target.moves;
    const checkpoint: Checkpoint = { moves, process: null, reached: null! };
    checkpoint.reached = (async () => {
      let rp: ReplayProcess;
      let outcome: Outcome | null = null;
      let done = 0;
      const from = chained ? await chained.reached : null;
      checkpoint.chained = null;
      if (from && !from.rp.exit) {
        rp = from.rp;
        outcome = from.outcome;
        done = chained!.moves.length;
      } else rp = await this.takeSpare();
      checkpoint.process = rp;
      if (this.checkpoint !== checkpoint && !this.chainedOn(checkpoint)) throw new Error('superseded');
      for (let i = done; i < moves.length; i++) {
        outcome = await this.execute(rp, moves[i]!, i === 0);
        if ('exited' in outcome.pause) break;
      }
      return { rp, outcome: outcome! };
    })();
    checkpoint.reached.catch(() => checkpoint.process?.kill());
    checkpoint.chained = chained;
    this.checkpoint = checkpoint;
  }

  /** Whether the current checkpoint goes on from `c` (and so needs its process). */
  private chainedOn(c: Checkpoint): boolean {
    for (let k = this.checkpoint?.chained; k; k = k.chained) if (k === c) return true;
    return false;
  }

  /**
   * The last pass of one of `ids` before the stop `here`, found by re-executing its moves with
   * those locations observed. A pass at the stop itself counts only with includeHere. The
   * re-executed replay, at the same stop, becomes the live one.
   */
  private async lastPassBefore(here: Stop, ids: number[], opts: { includeHere?: boolean } = {}): Promise<{ id: number; count: number } | null> {
    if (ids.length === 0) return null;
    const { rp, outcome } = await this.reexecute(here.moves, ids);
    const [lastId, lastCount, prevId, prevCount] = await rp.readShared([Slot.LastPassId, Slot.LastPassCount, Slot.PreviousPassId, Slot.PreviousPassCount]).catch(() => [0, 0, 0, 0]);
    if (!('exited' in outcome.pause)) this.swap(rp);
    else rp.kill();
    if (!lastId) return null;
    const pause = outcome.pause;
    const atStop = !('exited' in pause) && (rp.breakpoints.get(lastId!)?.resolved ?? []).some((l) => sameLocation(l, pause.callFrames[0]!.location));
    if (atStop && !opts.includeHere) return prevId ? { id: prevId, count: prevCount! } : null;
    return { id: lastId!, count: lastCount! };
  }

  /** Makes `rp` the live process (the old one is ended). */
  private swap(rp: ReplayProcess): void {
    if (this.live === rp) return;
    this.live?.kill();
    this.live = rp;
    this.forwardOutput(rp);
  }

  private forwardOutput(rp: ReplayProcess): void {
    rp.on('output', (category: string, text: string) => {
      if (this.live === rp) this.sendEvent(new OutputEvent(text, category));
    });
  }

  /** After a move: the new stop (or the end), told to the client. */
  private arrive(moves: Move[], outcome: Outcome, reason: string, opts: { keep?: boolean; rewind?: boolean; description?: string } = {}): void {
    const pause = outcome.pause;
    if ('exited' in pause) {
      this.finish(pause);
      return;
    }
    this.handles = new Handles();
    const ended = isExitPause(this.live!, pause);
    const byBreakpoint = !ended && (pause.hitBreakpoints?.length ?? 0) > 0;
    const stopReason = ended ? 'pause' : byBreakpoint ? 'breakpoint' : reason === 'breakpoint' ? 'pause' : reason;
    const description = ended ? `the program ended (event ${pause.event}): step back or reverse continue from here` : `${opts.description ?? stopReason} (event ${pause.event})`;
    const stop: Stop = { moves, event: pause.event, reason: stopReason, description, ended };
    if (opts.rewind) this.history = this.history.filter((s) => s.event < stop.event);
    this.history.push(stop);
    // While the stop is looked at: a checkpoint at the stop before, then a spare at the start (one
    // after the other: on a busy machine two replays starting at once slow the one a step back
    // may be waiting for).
    this.advanceCheckpoint();
    const checkpoint = this.checkpoint;
    if (checkpoint) void checkpoint.reached.then(() => this.ensureSpare(), () => this.ensureSpare());
    else this.ensureSpare();
    const ev = new StoppedEvent(stopReason, THREAD_ID) as DebugProtocol.StoppedEvent;
    ev.body.description = description;
    ev.body.allThreadsStopped = true;
    this.sendEvent(ev);
  }

  private finish(ended: Ended | null): void {
    const said = this.live?.stderrText.split('\n').filter((l) => l.startsWith('retrace:')) ?? [];
    if (ended && said.length) this.say(`${said.join('\n')}\n`);
    this.endReplays();
    this.sendEvent(new TerminatedEvent());
  }

  private say(text: string): void {
    this.sendEvent(new OutputEvent(text, 'console'));
  }

  private endReplays(): void {
    if (this.closed) return;
    this.closed = true;
    this.live?.kill();
    void this.spare?.then((rp) => rp.kill(), () => {});
    this.checkpoint?.process?.kill();
    void this.checkpoint?.reached.then(({ rp }) => rp.kill(), () => {});
  }

  // ---- frames and values ----

  private isProgramCode(rp: ReplayProcess, frame: CdpCallFrame): boolean {
    const file = rp.scriptFile(frame);
    return file !== null && !file.startsWith(distRoot + path.sep) && !file.split(path.sep).includes('node_modules');
  }

  /** The position of a frame in its source: the .ts file through the script's source map, else the script. */
  private sourcePosition(rp: ReplayProcess, frame: CdpCallFrame): { path: string; line: number; column: number } | null {
    const file = rp.scriptFile(frame);
    if (!file) return null;
    const script = rp.scripts.get(frame.location.scriptId);
    if (script?.sourceMapURL) {
      let index = this.sourceMaps.get(script.url);
      if (index === undefined) {
        const loaded = loadSourceMap(script.sourceMapURL, file);
        try {
          index = loaded ? new SourceMapIndex(loaded.map, loaded.location) : null;
        } catch {
          index = null;
        }
        this.sourceMaps.set(script.url, index);
      }
      const original = index?.original(frame.location.lineNumber, frame.location.columnNumber ?? 0);
      if (original?.source) return { path: original.source, line: original.line, column: original.column };
    }
    return { path: file, line: frame.location.lineNumber + 1, column: (frame.location.columnNumber ?? 0) + 1 };
  }

  private stackFrame(frame: CdpCallFrame, index: number): DebugProtocol.StackFrame {
    const rp = this.live!;
    const at = this.sourcePosition(rp, frame);
    const name = frame.functionName || '(anonymous)';
    const sf = new StackFrame(index, name, at ? new Source(path.basename(at.path), at.path) : undefined, at?.line ?? 0, at?.column ?? 0) as DebugProtocol.StackFrame;
    if (!this.isProgramCode(rp, frame)) sf.presentationHint = 'subtle';
    return sf;
  }

  private referenceOf(o: RemoteObject): number {
    return o.objectId && (o.type === 'object' || o.type === 'function') && o.subtype !== 'null' ? this.handles.create({ objectId: o.objectId }) : 0;
  }
}

interface RemoteObject {
  type: string;
  subtype?: string;
  className?: string;
  value?: unknown;
  unserializableValue?: string;
  description?: string;
  objectId?: string;
}

interface PropertyDescriptor {
  name: string;
  value?: RemoteObject;
}

/** A value as debuggers show it in one line. */
function describe(o: RemoteObject): string {
  switch (o.type) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return JSON.stringify(o.value);
    case 'number':
    case 'bigint':
      return o.unserializableValue ?? o.description ?? String(o.value);
    case 'boolean':
      return String(o.value);
  }
  if (o.subtype === 'null') return 'null';
  return o.description ?? o.className ?? o.type;
}

function sameMoves(a: Move[], b: Move[]): boolean {
  return a.length === b.length && isPrefix(a, b);
}

/** Whether the moves `a` are the first moves of `b` (moves are never changed once made: identity or equal JSON). */
function isPrefix(a: Move[], b: Move[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && JSON.stringify(a[i]) !== JSON.stringify(b[i])) return false;
  return true;
}

function sameLocation(a: { scriptId: string; lineNumber: number; columnNumber?: number }, b: { scriptId: string; lineNumber: number; columnNumber?: number }): boolean {
  return a.scriptId === b.scriptId && a.lineNumber === b.lineNumber && (a.columnNumber ?? 0) === (b.columnNumber ?? 0);
}

function isExitPause(rp: ReplayProcess, pause: Paused): boolean {
  const top = pause.callFrames[0];
  return top?.functionName === EXIT_PAUSE_FUNCTION && rp.scriptFile(top) === hookFile;
}
