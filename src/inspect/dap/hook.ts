// Loaded with --import into a replayed program by `retrace dap`, after the replay preload and before
// the program's own code. It starts the debugger thread (worker.ts), which talks to this thread's
// V8 inspector in-process and relays it to the adapter over pipes, and holds the program until the
// adapter has set its breakpoints and says go. It gives breakpoint conditions their counter (every
// breakpoint counts its passes, so that a re-execution can stop at the same pass), pauses when the
// replay consumes a target event, and, when asked, at the program's end. Nothing here is visible
// to the program but one non-enumerable symbol-keyed function of globalThis.
import { isMainThread } from 'node:worker_threads';
import { real } from '../../core/originals.js';
import { onReplayEvent } from '../../core/diagnostics.js';
import { activeEngine } from '../../runtime/session.js';
import { countSlot, DAP_ENV, modeSlot, MODE_ALWAYS, observedSlot, PASS_SYMBOL, SHARED_SLOTS, Slot } from './protocol.js';

const requested = real.env[DAP_ENV];
if (isMainThread && requested) {
  const shared = new Int32Array(new SharedArrayBuffer(4 * SHARED_SLOTS));
  shared[Slot.Event] = -1;
  shared[Slot.TargetEvent] = -1;

  // Each function holds one `debugger` statement: the adapter knows the pause by the function's name.
  const retraceEventReached = (): void => {
    debugger; // eslint-disable-line no-debugger
  };
  const retraceProgramEnded = (): void => {
    debugger; // eslint-disable-line no-debugger
  };

  const engine = activeEngine();
  if (engine?.replaying) {
    // Events the preload consumed already (the environment, the clock origin) came before this.
    const next = engine.peek();
    shared[Slot.Event] = next ? next.index - 1 : -1;
    onReplayEvent(({ index }) => {
      shared[Slot.Event] = index;
      if (index === shared[Slot.TargetEvent]) {
        shared[Slot.TargetEvent] = -1;
        retraceEventReached();
      }
    });
  }

  Object.defineProperty(globalThis, Symbol.for(PASS_SYMBOL), {
    enumerable: false,
    value: (id: number): boolean => {
      const n = ++shared[countSlot(id)]!;
      if (shared[observedSlot(id)]) {
        shared[Slot.PreviousPassId] = shared[Slot.LastPassId]!;
        shared[Slot.PreviousPassCount] = shared[Slot.LastPassCount]!;
        shared[Slot.LastPassId] = id;
        shared[Slot.LastPassCount] = n;
      }
      const mode = shared[modeSlot(id)]!;
      return mode === MODE_ALWAYS || (mode > 0 && mode === n);
    },
  });

  const worker = new real.Worker(new URL('./worker.js', import.meta.url), {
    workerData: { shared },
    execArgv: [],
    env: {},
    stdout: false,
    stderr: false,
  });
  worker.unref();
  process.once('exit', () => {
    if (shared[Slot.PauseAtExit]) retraceProgramEnded();
    // Its inspector session would hold the process at exit ("Waiting for the debugger to disconnect").
    void worker.terminate();
  });
  const started = real.dateNow();
  // Waits without polling: a spare replay (the adapter keeps one ready for re-executions) may wait
  // here for minutes. The interval only keeps the event loop alive meanwhile.
  const alive = real.setInterval(() => {
    if (Atomics.load(shared, Slot.State) === 0 && real.dateNow() - started > 30_000) {
      real.writeSync(2, 'retrace: the debugger thread did not start within 30 s\n');
      real.reallyExit(2);
    }
  }, 1000);
  for (;;) {
    const state = Atomics.load(shared, Slot.State);
    if (state === 3) break;
    if (state === 2) real.reallyExit(2); // the adapter was told why
    await (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { value: Promise<string> | string } }).waitAsync(shared, Slot.State, state).value;
  }
  real.clearInterval(alive);
}
