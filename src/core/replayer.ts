// The replay engine: checks each boundary crossing the program attempts against the recording,
// returns recorded results, and is the sequencer that delivers recorded callbacks in recorded order.
import { AsyncResource } from 'node:async_hooks';
import * as path from 'node:path';
import { describeCall, describeValue } from './describe.js';
import type { DeliveryHandler, Engine, Revive } from './engine.js';
import { real } from './originals.js';
import { programLocation } from './source-location.js';
import { diagnostics } from './diagnostics.js';
import { EngineBase, UNDRAINED_CHANNEL } from './engine-base.js';
import { UNENCODABLE_CHANNEL } from './recorder.js';
import { decodeValue, encodeValue, guardForeignCode } from './trace/codec.js';
import type { ModuleHash } from './trace/format.js';
import type { TraceEvent, TraceFile } from './trace/reader.js';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { currentStack } from './own-stack.js';

/** Exit status of a replay that diverged from its recording. */
export const DIVERGED_EXIT_CODE = 86;
/** Exit status of a replay that ran past the end of a truncated recording. */
export const TRUNCATED_EXIT_CODE = 87;

interface Pending {
  handler: DeliveryHandler;
  persistent: boolean;
  scope: AsyncResource;
}

export interface ReplayerOptions {
  /** The project folder of the recording, and where it is now: paths are mapped between the two. */
  recordedRoot: string;
  replayRoot: string;
  /** How long to wait for real (unrecorded) work before declaring the replay stalled. */
  stallMs: number;
}

export class Replayer extends EngineBase implements Engine {
  readonly mode = 'replay' as const;
  readonly recording = false;
  readonly replaying = true;
  private readonly events: Generator<TraceEvent>;
  private lookahead: TraceEvent | null = null;
  private exhausted = false;
  private readonly pending = new Map<number, Pending>();
  private readonly unsolicited = new Map<string, DeliveryHandler>();
  private pumpScheduled = false;
  private stalledSince = 0;
  private realWorkInFlight = 0;
  private finished = false;
  constructor(readonly trace: TraceFile, private readonly options: ReplayerOptions) {
    super();
    this.events = trace.events();
    // Comparing the program's arguments encodes them, which may run the program's stack formatting.
    guardForeignCode((fn) => this.unobserved(fn));
  }

  // ---- the cursor ----

  peek(): TraceEvent | null {
    if (this.lookahead || this.exhausted) return this.lookahead;
    try {
      const next = this.events.next();
      if (next.done) this.exhausted = true;
      else this.lookahead = next.value;
    } catch (err) {
      this.exhausted = true;
      this.trace.truncation ??= `an event cannot be decoded (${(err as Error).message})`;
    }
    const ev = this.lookahead;
    if (ev?.kind === 'value' && ev.channel.name === UNENCODABLE_CHANNEL) {
      // What the program did here was not recorded: nothing after it can be answered faithfully.
      this.diverge(`event ${ev.index}: the recording cannot go on from here: ${String(ev.value)}`);
    }
    return this.lookahead;
  }

  /** The number of the last event the replay consumed (-1 before the first). */
  position = -1;

  private take(): TraceEvent {
    const ev = this.lookahead!;
    this.lookahead = null;
    this.position = ev.index;
    if (diagnostics.replayEvent.hasSubscribers) diagnostics.replayEvent.publish({ event: ev });
    this.schedulePump();
    return ev;
  }

  /** The next event, which the program is now attempting to match; stops replay when there is none. */
  private nextFor(attempted: () => string): TraceEvent {
    const ev = this.peek();
    if (ev) return ev;
    if (this.trace.truncation) this.stopTruncated();
    this.diverge('the recording has no more events', attempted());
  }

  private sameChannel(ev: TraceEvent, channel: number, kind: TraceEvent['kind']): boolean {
    return ev.kind === kind && ev.kind !== 'deliver' && ev.channel.name === this.names[channel];
  }

  float(channel: number, live: () => number): number {
    if (this.passthrough) return live();
    const ev = this.peek();
    if (ev && ev.kind === 'value' && ev.channel.name === this.names[channel] && typeof ev.value === 'number') {
      this.take();
      return ev.value;
    }
    return this.value(channel, live) as number;
  }

  value<T>(channel: number, live: () => T, revive?: Revive<T>): T {
    if (this.passthrough) return this.unobserved(live);
    const ev = this.nextFor(() => `${this.names[channel]}()`);
    if (!this.sameChannel(ev, channel, 'value')) this.mismatch(ev, `${this.names[channel]}()`);
    this.take();
    const v = (ev as { value: unknown }).value;
    return revive ? revive(v) : (v as T);
  }

  call<T>(channel: number, args: unknown, _live: () => T, revive?: Revive<T>): T {
    const ev = this.nextFor(() => describeCall(this.names[channel]!, args));
    if (!this.sameChannel(ev, channel, 'call') || !sameArgs((ev as { args: unknown }).args, args)) {
      this.mismatch(ev, describeCall(this.names[channel]!, args));
    }
    this.take();
    const call = ev as Extract<TraceEvent, { kind: 'call' }>;
    if (call.threw) throw call.result;
    return revive ? revive(call.result) : (call.result as T);
  }

  request(channel: number, args: unknown): number {
    const ev = this.nextFor(() => describeCall(this.names[channel]!, args));
    if (!this.sameChannel(ev, channel, 'request') || !sameArgs((ev as { args: unknown }).args, args)) {
      this.mismatch(ev, describeCall(this.names[channel]!, args));
    }
    this.take();
    if (this.handlingThrow && this.names[channel] === 'timers.setImmediate') this.afterHandledThrow();
    return (ev as { reqId: number }).reqId;
  }

  /**
   * Set while Node runs the 'uncaughtException' listeners for an exception the program handles.
   * Node's exception path then calls `setImmediate(noop)` (lib/internal/process/execution.js):
   * that request is the one moment JavaScript runs between the listeners and the resumed drain of
   * the nextTick and microtask queues.
   */
  private handlingThrow = false;

  noteHandledThrow(): void {
    this.handlingThrow = true;
  }

  /**
   * Node's no-op immediate after a handled exception has just been requested. When the throw came
   * from a nextTick or a microtask (not from a callback the sequencer delivered, which `pump`
   * handles), Node may run a callback that was already due, the next timer of the same list,
   * before the remaining nextTicks; the recorder marks that case ('sequencer.undrained'). The
   * sequencer's own immediate would only run after the drain, so the marked delivery is made here.
   */
  private afterHandledThrow(): void {
    if (this.afterThrow) return;
    // A listener's own setImmediate comes before Node's; the marker follows Node's.
    const marker = this.peek();
    if (marker?.kind !== 'value' || marker.channel.name !== UNDRAINED_CHANNEL) return;
    this.handlingThrow = false;
    this.take();
    const ev = this.peek();
    if (ev?.kind !== 'deliver') return;
    try {
      this.deliverIfNext(ev.reqId);
    } catch (err) {
      // The marked callback threw too. It runs inside Node's exception path, where a throw is
      // fatal; Node itself handled it as a second uncaught exception, so hand it to that path.
      const fatalException = (process as unknown as { _fatalException?: (e: unknown, fromPromise: boolean) => boolean })._fatalException;
      if (typeof fatalException !== 'function' || !fatalException(err, false)) throw err;
    }
  }

  deliver(_reqId: number, _payload: unknown): void {}

  expect(reqId: number, handler: DeliveryHandler, persistent = false): void {
    this.pending.set(reqId, { handler, persistent, scope: new AsyncResource('RetraceReplay') });
    this.schedulePump();
  }

  forget(reqId: number): void {
    this.pending.delete(reqId);
  }

  deliverIfNext(reqId: number): boolean {
    const ev = this.peek();
    const p = this.pending.get(reqId);
    if (!ev || ev.kind !== 'deliver' || ev.reqId !== reqId || !p) return false;
    this.take();
    this.stalledSince = 0;
    if (!p.persistent) this.pending.delete(reqId);
    p.scope.runInAsyncScope(p.handler, null, ev.payload);
    return true;
  }

  onUnsolicited(channel: number, handler: DeliveryHandler, afterLoopEmpties?: (value: unknown) => boolean): void {
    this.unsolicited.set(this.names[channel]!, handler);
    if (afterLoopEmpties) this.afterLoopEmpties.set(this.names[channel]!, afterLoopEmpties);
  }
  private readonly afterLoopEmpties = new Map<string, (value: unknown) => boolean>();
  /** Set while Node emits a live 'beforeExit': the replay's loop has emptied. */
  private loopEmpty = false;

  realWork(): () => void {
    this.realWorkInFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.realWorkInFlight--;
    };
  }

  recordedPath(p: string): string {
    const { recordedRoot, replayRoot } = this.options;
    if (recordedRoot === replayRoot) return p;
    if (p === replayRoot) return recordedRoot;
    if (p.startsWith(replayRoot + path.sep)) return recordedRoot + p.slice(replayRoot.length);
    return p;
  }

  // ---- the sequencer ----

  schedulePump(): void {
    if (this.finished) return;
    // Waiting for hidden native work on an unref'd timer holds the loop open for nothing: a
    // request made meanwhile must be served from a real turn, or the loop could empty first.
    if (this.pumpScheduled && !this.idleWaiting) return;
    this.idleWaiting = false;
    this.pumpScheduled = true;
    real.setImmediate(this.pump);
  }

  /**
   * Runs when the program is idle (a fresh macrotask: microtasks and nextTicks drained). If the next
   * recorded event is a delivery the program is waiting for, make it; if it is a call the program
   * has yet to make, wait for real work still in flight, or report that the program went idle.
   */
  /** The sequencer's retry while waiting for real work: its own Timeout must not count as work. */
  private polling = false;
  private readonly poll = (): void => {
    this.pump();
    this.polling = false;
  };

  private readonly pump = (): void => {
    this.pumpScheduled = false;
    if (this.finished) return;
    this.handlingThrow = false; // the queues have drained since any handled throw
    let ev = this.peek();
    if (this.afterThrow) {
      // The last callback threw and an 'uncaughtException' handler dealt with it. The recording
      // says whether Node ran the next callback before draining the microtasks the failed one
      // queued (a marker event); if not, let them drain first.
      this.afterThrow = false;
      if (ev?.kind === 'value' && ev.channel.name === UNDRAINED_CHANNEL) {
        this.take();
        ev = this.peek();
      } else {
        this.schedulePump();
        return;
      }
    } else if (ev?.kind === 'value' && ev.channel.name === UNDRAINED_CHANNEL) {
      this.take(); // a throw this replay did not see through the sequencer: nothing to hold back
      ev = this.peek();
    }
    if (!ev) {
      if (this.trace.truncation) this.stopTruncated();
      return; // a complete recording ends with the process's end event, handled below
    }
    if (ev.kind === 'deliver') {
      const p = this.pending.get(ev.reqId);
      if (p) {
        this.take();
        this.stalledSince = 0;
        if (!p.persistent) this.pending.delete(ev.reqId);
        // Scheduled before the handler runs, so a throwing callback caught by an
        // uncaughtException handler does not stop the replay.
        this.schedulePump();
        this.runHandler(p.scope, p.handler, ev.payload);
        return;
      }
    } else if (ev.kind === 'value') {
      const handler = this.unsolicited.get(ev.channel.name);
      if (handler && !this.loopEmpty && this.afterLoopEmpties.get(ev.channel.name)?.(ev.value)) {
        this.waitForEmptyLoop(ev);
        return;
      }
      if (handler) {
        this.take();
        this.stalledSince = 0;
        this.schedulePump();
        this.runHandler(null, handler, ev.value);
        return;
      }
    }
    this.waitForProgram(ev);
  };

  private afterThrow = false;

  /** The event at which the program looked idle, while the sequencer waits for hidden native work. */
  private idleAt = -1;
  private idleSince = 0;
  private idleWaiting = false;
  private readonly idlePoll = (): void => {
    if (!this.idleWaiting) return; // a real turn was scheduled meanwhile
    this.idleWaiting = false;
    this.pump();
  };

  /**
   * Node found the event loop empty (it is emitting 'beforeExit' on its own). While the sequencer
   * waits for hidden native work that means there was none: the program went idle where the
   * recording goes on. Returns false when the sequencer was not waiting so.
   */
  loopEmptied(): boolean {
    const ev = this.peek();
    if (!ev || ev.index !== this.idleAt || this.finished) return false;
    if (ev.kind === 'value' && this.afterLoopEmpties.get(ev.channel.name)?.(ev.value)) {
      // The recorded loop emptied here too: deliver its event now, in place of the live one.
      this.loopEmpty = true;
      try {
        this.idleWaiting = false;
        this.pump();
      } finally {
        this.loopEmpty = false;
      }
      return true;
    }
    this.diverge(`the program went idle, but the recording continues with event ${ev.index}: ${this.describeEvent(ev)}`);
  }

  /**
   * The recording's loop ran out of work at `ev`; wait, on an unref'd timer, until the replay's
   * loop empties too (Node then emits 'beforeExit' and the process boundary calls loopEmptied), or
   * the program makes progress. Live work that outlasts the stall time does not hold it forever.
   */
  private waitForEmptyLoop(ev: TraceEvent): void {
    const now = real.dateNow();
    if (this.idleAt !== ev.index) {
      this.idleAt = ev.index;
      this.idleSince = now;
    }
    if (now - this.idleSince >= this.options.stallMs) {
      this.loopEmpty = true;
      try {
        this.pump();
      } finally {
        this.loopEmpty = false;
      }
      return;
    }
    this.pumpScheduled = true;
    this.idleWaiting = true;
    real.setTimeout(this.idlePoll, 5).unref();
  }

  private runHandler(scope: AsyncResource | null, handler: DeliveryHandler, payload: unknown): void {
    this.afterThrow = true;
    if (scope) scope.runInAsyncScope(handler, null, payload);
    else handler(payload);
    this.afterThrow = false;
  }

  private waitForProgram(ev: TraceEvent): void {
    const busy = realResourcesInFlight(this.polling);
    const now = real.dateNow();
    // Work we started ourselves is known to finish; only unexplained waiting counts towards a stall.
    if (this.stalledSince === 0 || this.realWorkInFlight > 0) this.stalledSince = now;
    const realWork = busy.length > 0 || this.realWorkInFlight > 0;
    if (realWork && now - this.stalledSince < this.options.stallMs) {
      this.pumpScheduled = true;
      this.polling = true;
      real.setTimeout(this.poll, 1);
      return;
    }
    if (!realWork) {
      // Native addons' thread-pool work (N-API async work: bcrypt's hash, rollup's parser) is not
      // in getActiveResourcesInfo, yet keeps the event loop alive. Wait on an unref'd timer: while
      // such work is in flight the loop stays up and its completion lets the program reach the
      // event; with nothing in flight the loop empties, Node emits 'beforeExit', and the process
      // boundary calls wentIdle().
      if (this.idleAt !== ev.index) {
        this.idleAt = ev.index;
        this.idleSince = now;
      }
      if (now - this.idleSince < this.options.stallMs) {
        this.pumpScheduled = true;
        this.idleWaiting = true;
        real.setTimeout(this.idlePoll, 5).unref();
        return;
      }
    }
    const expected = this.describeEvent(ev);
    if (realWork) {
      this.diverge(
        `replay stalled: for ${this.options.stallMs} ms the program did not reach recorded event ${ev.index}, ${expected} (still waiting on: ${[...new Set(busy)].join(', ')})`,
      );
    }
    this.diverge(`the program went idle, but the recording continues with event ${ev.index}: ${expected}`);
  }

  describeEvent(ev: TraceEvent): string {
    switch (ev.kind) {
      case 'value':
        return this.unsolicited.has(ev.channel.name)
          ? `${ev.channel.name} ${describeValue(ev.value)} (delivered by the event loop)`
          : `${ev.channel.name}() → ${describeValue(ev.value)}`;
      case 'call':
        return `${describeCall(ev.channel.name, ev.args)}${ev.threw ? ' threw ' : ' → '}${describeValue(ev.result, 120)}`;
      case 'request':
        return `${describeCall(ev.channel.name, ev.args)} [request ${ev.reqId}]`;
      case 'deliver':
        return `callback for request ${ev.reqId} with ${describeValue(ev.payload, 120)}`;
    }
  }

  /** True once the end of the recording has been handled: the pump stops. */
  finish(): void {
    this.finished = true;
  }

  noteModule(hash: ModuleHash): void {
    if (hash.dependency) return; // listed for `retrace pack`; only the program's own code is checked
    const recordedUrl = pathToFileURL(this.recordedPath(fileURLToPath(hash.url))).href;
    const recorded = this.trace.modules.find((m) => m.url === recordedUrl);
    if (recorded && recorded.sha256 !== hash.sha256) {
      real.writeSync(2, `retrace: warning: ${fileURLToPath(hash.url)} changed since it was recorded; replay may diverge\n`);
    }
  }

  checkEnd(code: number): void {
    const next = this.peek();
    this.finish();
    if (next && next.kind === 'value' && next.channel.name === 'process.end') {
      const end = next.value as { exitCode: number | null };
      if (end.exitCode !== null && end.exitCode !== code) {
        real.writeSync(2, `retrace: warning: the recorded process exited with status ${end.exitCode}, the replay with ${code}\n`);
      }
      return;
    }
    if (next) {
      real.writeSync(2, `retrace: replay diverged: the program exited (status ${code}) but the recording continues with event ${next.index}: ${this.describeEvent(next)}\n`);
      process.exitCode = DIVERGED_EXIT_CODE;
    } else if (this.trace.truncation) {
      real.writeSync(2, `retrace: recording ends here (truncated): ${this.trace.truncation}\n`);
    }
  }

  get eventsLeft(): boolean {
    return this.peek() !== null;
  }

  private mismatch(ev: TraceEvent, attempted: string): never {
    this.diverge(`event ${ev.index}: the recording has ${this.describeEvent(ev)}`, attempted);
  }

  diverge(what: string, attempted?: string): never {
    // Deep enough to get past Node's own frames (promises, streams, dgram's deferred sends).
    const stack = currentStack(100);
    const location = programLocation(stack, real.processCwd());
    const lines = [`retrace: replay diverged: ${what}`];
    if (attempted) lines.push(`retrace:   the program attempted ${attempted}`);
    if (location) lines.push(`retrace:   at ${location}`);
    this.stop(lines.join('\n'), DIVERGED_EXIT_CODE);
  }

  private stopTruncated(): never {
    this.stop(`retrace: recording ends here (truncated): ${this.trace.truncation}`, TRUNCATED_EXIT_CODE);
  }

  private stop(message: string, code: number): never {
    this.finished = true;
    real.writeSync(2, `${message}\n`);
    return real.reallyExit(code);
  }
}

/**
 * The kinds of real work the program still has in flight. The program's stdio handles are not work,
 * and neither is the Timeout that is running the sequencer's own retry.
 */
function realResourcesInFlight(fromPollTimer: boolean): string[] {
  const busy = process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap');
  if (fromPollTimer) {
    const own = busy.indexOf('Timeout');
    if (own >= 0) busy.splice(own, 1);
  }
  return busy;
}

function sameArgs(recorded: unknown, attempted: unknown): boolean {
  const then = encodeValue(recorded);
  const now = encodeValue(attempted);
  if (then.equals(now)) return true;
  // What the trace keeps only as a description (a function, a cycle, a getter) decodes to a
  // string: the attempt is compared as it would read back from a trace.
  return then.equals(encodeValue(decodeValue(now)));
}
