// What `retrace dap` (the adapter, adapter.ts), its hook in the replayed program (hook.ts) and the
// debugger thread there (worker.ts) share. The adapter talks to the debugger thread over two pipes
// (JSON lines): Chrome DevTools Protocol commands, replies and events, plus a few messages of ours.
// The program's thread and the debugger thread share an Int32Array, so that nothing needs to be
// evaluated in the program to know where the replay is or to tell it where to stop.

/** The environment variable that carries the request into the replayed program. */
export const DAP_ENV = 'RETRACE_DAP';

/** The debugger thread writes to this file descriptor (a pipe to the adapter)... */
export const DAP_OUT_FD = 3;
/** ...and reads the adapter's messages from this one. */
export const DAP_IN_FD = 4;

/** The most breakpoint locations one session can use (ids 1..MAX_BREAKPOINTS-1). */
export const MAX_BREAKPOINTS = 4096;

/** Slots of the shared Int32Array. */
export const enum Slot {
  /** The number of the last recorded event the replay consumed (-1 before the first). */
  Event = 0,
  /** 0 while the debugger thread sets up, 1 when it is ready, 2 when it failed, 3 when the program may start. */
  State = 1,
  /** Pause when the replay consumes this event (-1: none). */
  TargetEvent = 2,
  /** The latest pass of an observed breakpoint location (id, pass number), and the one before it. */
  LastPassId = 3,
  LastPassCount = 4,
  PreviousPassId = 5,
  PreviousPassCount = 6,
  /** 1: pause when the program ends, so that one can still step back from there. */
  PauseAtExit = 7,
  Header = 16,
}

/** Where a breakpoint location's mode, pass count and observed flag are in the shared array. */
export const modeSlot = (id: number) => Slot.Header + id;
export const countSlot = (id: number) => Slot.Header + MAX_BREAKPOINTS + id;
export const observedSlot = (id: number) => Slot.Header + 2 * MAX_BREAKPOINTS + id;
export const SHARED_SLOTS = Slot.Header + 3 * MAX_BREAKPOINTS;

/**
 * A breakpoint location's mode: never pause (it only counts its passes), pause at every pass, or
 * pause at one pass (n > 0).
 */
export const MODE_COUNT_ONLY = 0;
export const MODE_ALWAYS = -1;

/**
 * The global function (a symbol key of globalThis, not enumerable) every breakpoint's condition
 * calls: it counts the pass and says whether to pause.
 */
export const PASS_SYMBOL = 'retrace.dap.pass';
export const conditionFor = (id: number) => `globalThis[Symbol.for(${JSON.stringify(PASS_SYMBOL)})](${id})`;

/** Names of the hook's functions the program pauses in: at a target event, and at its end. */
export const EVENT_PAUSE_FUNCTION = 'retraceEventReached';
export const EXIT_PAUSE_FUNCTION = 'retraceProgramEnded';

/** Adapter → debugger thread. */
export type ToWorker =
  | { id: number; method: string; params?: object }
  | { id: number; type: 'shared'; set: [slot: number, value: number][] }
  | { id: number; type: 'read'; slots: number[] }
  | { type: 'go' };

/** Debugger thread → adapter. */
export type FromWorker =
  | { id: number; result?: unknown; error?: string }
  | { method: string; params: unknown; event: number }
  | { type: 'ready' }
  | { type: 'error'; message: string };
