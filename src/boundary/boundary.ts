import type { Engine } from '../core/engine.js';
import type { TraceHeader } from '../core/trace/format.js';

/** What a boundary module knows about the session it is installed into. */
export interface SessionContext {
  /** The header of this process's recording (in replay: the recorded one, not this process's). */
  readonly header: TraceHeader;
  /** Record only: environment entries a spawned child needs so that it is recorded too. */
  childEnv(): Record<string, string>;
  /** Record only: writes the end of the recording; safe to call more than once. */
  finishRecording(how: { exitCode: number | null; signal: string | null; reason: 'exit' | 'signal' }): void;
}

export interface Boundary {
  /** Short name, used in docs and `retrace info`. */
  readonly name: string;
  /** Patches what this module covers. Called once per process, before the program's code loads. */
  install(engine: Engine, session: SessionContext): void;
}
