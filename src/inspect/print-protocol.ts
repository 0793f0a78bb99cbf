// What `retrace print` (src/cli/print.ts), its hook in the replayed program (print-hook.ts) and the
// debugger thread (print-worker.ts) share.
import type { BreakpointPlan } from './location.js';

/** The environment variable that carries the request into the replayed program. */
export const PRINT_ENV = 'RETRACE_PRINT';

/** The file descriptor the debugger thread writes its reports to (a pipe to the CLI). */
export const PRINT_FD = 3;

export interface PrintRequest {
  plan: BreakpointPlan;
  /** The expression to evaluate at each hit; null: none (locals only). */
  expr: string | null;
  /** Only this hit is evaluated; null: every hit (or those of `range`). */
  hit: number | null;
  /** Only hits from `first` to `last` (counted from 1) are evaluated. */
  range?: { first: number; last: number };
  /** The debugger thread stops setting breakpoints after this hit (the CLI ends the replay there). */
  stopAfter: number | null;
  /** Also report the paused frame's local variables (its local, block, closure and module scopes). */
  locals?: boolean;
}

/** A variable of the paused frame, previewed as the inspector shows it. */
export interface LocalVariable {
  scope: string;
  name: string;
  value: string;
  type: string;
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
  | { type: 'hit'; hit: number; event: number; at: string; value?: string; valueType?: string; error?: string; skipped?: boolean; locals?: LocalVariable[] }
  | { type: 'moved'; line: number; script: string }
  | { type: 'error'; message: string };
