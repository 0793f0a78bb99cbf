// workers: worker threads are not recorded yet. Rather than let a worker's nondeterminism pass
// silently, say so when the program starts one, in both modes.
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { builtin } from './wrap.js';

const workerThreads = builtin<typeof import('node:worker_threads')>('node:worker_threads');

export const workersBoundary: Boundary = {
  name: 'workers',
  install(engine: Engine) {
    const RealWorker = workerThreads.Worker;
    let warned = false;
    const Patched = class Worker extends (RealWorker as new (...args: any[]) => object) {
      constructor(...args: any[]) {
        if (!warned) {
          warned = true;
          real.writeSync(2, engine.recording
            ? 'retrace: warning: worker threads are not recorded yet; a replay will run this worker live\n'
            : 'retrace: warning: worker threads are not recorded yet; this worker runs live and its results may differ from the recording\n');
        }
        super(...args);
      }
    };
    Object.defineProperty(workerThreads, 'Worker', { value: Patched, writable: true, configurable: true, enumerable: true });
  },
};
