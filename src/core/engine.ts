// The engine interface every boundary module is written against. A module calls the same methods in
// both modes; the recorder performs the live operation and writes it down, the replayer checks the
// attempt against the recording and hands back what was recorded.
import type { ModuleHash, Shape } from './trace/format.js';
import type { TraceEvent, TraceFile } from './trace/reader.js';

export type Mode = 'record' | 'replay';

/** Turns a recorded (decoded) value back into what the program expects: Stats objects, fake handles... */
export type Revive<T> = (recorded: unknown) => T;

/** Handles a recorded delivery during replay. */
export type DeliveryHandler = (payload: unknown) => void;

export interface Engine {
  readonly mode: Mode;
  readonly recording: boolean;
  readonly replaying: boolean;

  /** Declares a channel: one kind of boundary crossing, named `module.function`. */
  channel(name: string, shape: Shape): number;

  /**
   * True while the engine must not intercept: inside another intercepted call (so Node's own use of a
   * patched function is not recorded twice) or while Node loads the program's modules.
   */
  readonly passthrough: boolean;
  /** Runs `fn` with interception suspended; returns its result. */
  unobserved<T>(fn: () => T): T;
  /** Suspends interception until the returned function is called (once); `observed` does not lift it. */
  suspend(): () => void;
  /** Runs `fn` with interception back on inside an `unobserved` section (a module body during loading). */
  observed<T>(fn: () => T): T;

  /** A float read from the outside world (Date.now, Math.random). The hot path: no allocation. Live, unrecorded, in passthrough. */
  float(channel: number, live: () => number): number;
  /** A value read from the outside world, with no arguments worth checking. Live, unrecorded, in passthrough. */
  value<T>(channel: number, live: () => T, revive?: Revive<T>): T;
  /**
   * A synchronous external call. `args` are the arguments that matter for divergence checking,
   * already in a stable, encodable form. Errors thrown by `live` are recorded and rethrown in replay.
   */
  call<T>(channel: number, args: unknown, live: () => T, revive?: Revive<T>): T;
  /** Starts an asynchronous external operation; returns its request id (the same in record and replay). */
  request(channel: number, args: unknown): number;

  /** Record: the event loop is entering JavaScript for `reqId`, with this payload. */
  deliver(reqId: number, payload: unknown): void;
  /**
   * Replay: run `handler` when the recording delivers to `reqId`. `persistent` for requests that
   * deliver more than once (intervals, streams); otherwise the request is done after one delivery.
   */
  expect(reqId: number, handler: DeliveryHandler, persistent?: boolean): void;
  /**
   * Replay: if the next recorded event is the delivery for `reqId` and its handler is registered,
   * run it now rather than in a later turn of the sequencer. For operations that complete within
   * the current turn (a nextTick, a microtask) or whose live completion in replay marks the moment.
   */
  deliverIfNext(reqId: number): boolean;
  /** Replay: the program no longer wants deliveries for `reqId` (clearTimeout, stream destroyed). */
  forget(reqId: number): void;
  /**
   * Replay: `handler` delivers unsolicited value events of `channel` (signals, IPC messages) when the
   * recording reaches them and the program is idle. Where `afterLoopEmpties` says so for an event
   * ('beforeExit': the recorded loop ran out of work), it is delivered only once the replay's event
   * loop has emptied too: native work Node does not list may still be running.
   */
  onUnsolicited(channel: number, handler: DeliveryHandler, afterLoopEmpties?: (value: unknown) => boolean): void;

  /**
   * Replay: real work is running that the recording is waiting for (deterministic work run live,
   * like zlib); the sequencer waits for it instead of reporting the program idle. Call the returned
   * function when it completes.
   */
  realWork(): () => void;

  /**
   * Record: a callback threw and an 'uncaughtException' handler will deal with it. Node may then run
   * the next due callback before draining the microtasks the failed one queued; the recorder notes
   * whether it did, so replay can do the same.
   */
  noteHandledThrow(): void;

  /** Maps a path the program uses in replay to the path it had in the recording (a moved project). */
  recordedPath(path: string): string;

  // What a boundary may ask of the recording. Inert while recording: there is no recording to read
  // ahead in yet. (Tools outside the engine observe a replay through src/core/diagnostics.ts.)

  /** The recording being replayed (its file, header and modules); null while recording. */
  readonly trace: TraceFile | null;
  /** Replay: the next recorded event, not consumed; null at the end of the recording, and always null while recording. */
  peek(): TraceEvent | null;
  /** Replay: a recorded event in words, for the program's user (divergence reports, warnings). */
  describeEvent(event: TraceEvent): string;
  /**
   * A module of the program was loaded: record keeps its hash; replay warns when it changed since.
   * A dependency's (`hash.dependency`) is kept by record for `retrace pack`, ignored by replay.
   */
  noteModule(hash: ModuleHash): void;
  /**
   * Replay: the program is exiting with `code`; the recording must end here too (a warning when
   * the recorded status differs, a divergence when the recording goes on). Stops the sequencer.
   */
  checkEnd(code: number): void;
  /** Replay: the program's exit is under way; the sequencer delivers nothing more. */
  finish(): void;
  /**
   * Replay: Node emits 'beforeExit' on its own, the replay's event loop has emptied. Delivers the
   * recorded 'beforeExit' in its place when the recording's loop emptied here too (returns true),
   * reports the program idle when the sequencer was waiting on it, else returns false.
   */
  loopEmptied(): boolean;

  /** Replay: stops with a divergence report. Never returns. */
  diverge(what: string, attempted?: string): never;
}
