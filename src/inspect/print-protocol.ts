// What `retrace print` (src/cli/print.ts), its hook in the replayed program (print-hook.ts) and the
// debugger thread (print-worker.ts) share.
import type { BreakpointPlan } from './location.js';

/** The environment variable that carries the request into the replayed program. */
export const PRINT_ENV = 'RETRACE_PRINT';

/** The file descriptor the debugger thread writes its reports to (a pipe to the CLI). */
export const PRINT_FD = 3;

export interface PrintRequest {
  plan: BreakpointPlan;
  expr: string;
  /** Only this hit is evaluated; null: every hit. */
  hit: number | null;
}

/** Slots of the shared Int32Array between the program's thread and the debugger thread. */
export const enum PrintSlot {
  /** The number of the last recorded event the replay consumed (-1 before the first). */
  Event = 0,
  /** 0 while the debugger thread sets up, 1 when its breakpoints are set, 2 when it failed. */
  State = 1,
  Size = 2,
}

/** One line of the debugger thread's report, as JSON. */
export type PrintReport =
  | { type: 'hit'; hit: number; event: number; at: string; value?: string; valueType?: string; error?: string; skipped?: boolean }
  | { type: 'moved'; line: number; script: string }
  | { type: 'error'; message: string };
