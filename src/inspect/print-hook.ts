// Loaded with --import into a replayed program by `retrace print`, after the replay preload and
// before the program's own code. It starts the debugger thread (print-worker.ts), which talks to
// this thread's V8 inspector in-process (no port), and waits, with the event loop running so the
// inspector can serve it, until the breakpoints are set. It tells the debugger thread which
// recorded event the replay has reached through a shared array, so nothing is evaluated in the
// program to find out. Nothing here is visible to the program.
import { isMainThread } from 'node:worker_threads';
import { real } from '../core/originals.js';
import { onReplayEvent } from '../core/diagnostics.js';
import { activeEngine } from '../runtime/session.js';
import { PRINT_ENV, PrintSlot, type PrintRequest } from './print-protocol.js';

// In replay the program's process.env is the recorded one: the request is in the real environment.
const requestText = real.env[PRINT_ENV];
if (isMainThread && requestText) {
  const request = JSON.parse(requestText) as PrintRequest;
  const shared = new Int32Array(new SharedArrayBuffer(4 * PrintSlot.Size));
  shared[PrintSlot.Event] = -1;
  const engine = activeEngine();
  if (engine?.replaying) {
    // Events the preload consumed already (the environment, the clock origin) came before this.
    const next = engine.peek();
    shared[PrintSlot.Event] = next ? next.index - 1 : -1;
    onReplayEvent((event) => (shared[PrintSlot.Event] = event.index));
  }
  const worker = new real.Worker(new URL('./print-worker.js', import.meta.url), {
    workerData: { request, shared },
    execArgv: [],
    env: {},
    stdout: false,
    stderr: false,
  });
  worker.unref();
  // Its inspector session would hold the process at exit ("Waiting for the debugger to disconnect").
  process.once('exit', () => void worker.terminate());
  const started = real.dateNow();
  await new Promise<void>((resolve) => {
    const check = () => {
      if (Atomics.load(shared, PrintSlot.State) !== 0) return resolve();
      if (real.dateNow() - started > 30_000) {
        real.writeSync(2, 'retrace: the debugger thread did not start within 30 s\n');
        real.reallyExit(2);
      }
      real.setTimeout(check, 1);
    };
    check();
  });
  if (Atomics.load(shared, PrintSlot.State) === 2) real.reallyExit(2); // the worker said why on fd 3
}
