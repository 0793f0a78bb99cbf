// workers: worker threads are not recorded yet. Rather than let a worker's nondeterminism pass
// silently, say so when the program starts one, in both modes.
//
// In-process MessageChannels are sequenced: the messages a program posts to itself are
// deterministic, but the turn in which the event loop delivers each one (Node's messaging layer,
// not a timer or I/O callback) is not. Each port of a MessageChannel the program creates is a
// request; each dispatch of a message on it is a delivery. Replay lets the real message arrive,
// then holds its dispatch until its recorded turn.
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { builtin } from './wrap.js';
import { Shape } from '../core/trace/format.js';

const workerThreads = builtin<typeof import('node:worker_threads')>('node:worker_threads');

export const workersBoundary: Boundary = {
  name: 'workers',
  install(engine: Engine) {
    const RealWorker = workerThreads.Worker;
    let warned = false;
    let warnedRunner = false;
    const Patched = class Worker extends (RealWorker as new (...args: any[]) => object) {
      constructor(...args: any[]) {
        const runner = testRunnerWorker(args[0]);
        if (runner) {
          // A test runner's worker runs the test files: live in replay, it would reach the database
          // and the network the recording answered, and its results would not be the recorded ones.
          if (engine.replaying) {
            engine.diverge(`the program started a worker thread (${runner.script}), and worker threads are not recorded yet: ${runner.name} runs its test files in it, which replay cannot run live. Record with ${runner.instead}`);
          }
          if (!warnedRunner) real.writeSync(2, `retrace: warning: ${runner.name} runs test files in worker threads (${runner.script}), which are not recorded yet: a replay of this recording will stop here. Record with ${runner.instead}\n`);
          warnedRunner = true;
        } else if (!warned) {
          warned = true;
          real.writeSync(2, engine.recording
            ? 'retrace: warning: worker threads are not recorded yet; a replay will run this worker live\n'
            : 'retrace: warning: worker threads are not recorded yet; this worker runs live and its results may differ from the recording\n');
        }
        super(...args);
      }
    };
    Object.defineProperty(workerThreads, 'Worker', { value: Patched, writable: true, configurable: true, enumerable: true });
    sequenceMessagePorts(engine);
  },
};

/** Test runners' worker-thread entry points, and how to record the same run in processes instead. */
const RUNNER_WORKERS: { pattern: RegExp; name: string; instead: string }[] = [
  { pattern: /[\\/]vitest[\\/]dist[\\/]workers[\\/]threads\.js$/, name: 'vitest\'s threads pool', instead: '--pool=forks (each test file in a recorded child process).' },
  { pattern: /[\\/]jest-worker[\\/]build[\\/]workers[\\/]threadChild\.js$/, name: 'jest with --workerThreads', instead: 'jest\'s default child-process workers or --runInBand.' },
  { pattern: /[\\/]workerpool[\\/].*worker\.js$|[\\/]mocha[\\/]lib[\\/]nodejs[\\/]worker\.js$/, name: 'mocha --parallel in threads', instead: 'mocha --parallel in its default child processes, or serially.' },
];

function testRunnerWorker(filename: unknown): { script: string; name: string; instead: string } | null {
  const script = filename instanceof URL ? filename.pathname : typeof filename === 'string' ? filename : '';
  const found = RUNNER_WORKERS.find((r) => r.pattern.test(script));
  return found ? { script, name: found.name, instead: found.instead } : null;
}

/** Node's own hooks (global symbols): emitMessage (lib/internal/per_context/messageport.js) calls
 * `port[kHybridDispatch](data, type, event)` for every message, looking it up each time. */
const kHybridDispatch = Symbol.for('nodejs.internal.kHybridDispatch');
const kCurrentlyReceivingPorts = Symbol.for('nodejs.internal.kCurrentlyReceivingPorts');

type Dispatch = (this: object, data: unknown, type: unknown, event: unknown) => unknown;

interface HeldMessage {
  data: unknown;
  type: unknown;
  event: unknown;
  ports: unknown;
}

function sequenceMessagePorts(engine: Engine): void {
  const RealChannel = workerThreads.MessageChannel;
  const portProto = workerThreads.MessagePort.prototype as unknown as Record<symbol, Dispatch>;
  const dispatch = portProto[kHybridDispatch];
  if (typeof RealChannel !== 'function' || typeof dispatch !== 'function') return; // another Node: left live
  const channelCh = engine.channel('messaging.MessageChannel', Shape.Request);
  const sequenced = new WeakMap<object, number>(); // port → its request id
  const held = new Map<number, { port: object; queue: HeldMessage[] }>();

  const Patched = class MessageChannel extends (RealChannel as unknown as new () => { port1: object; port2: object }) {
    constructor() {
      super();
      if (engine.passthrough) return;
      sequenced.set(this.port1, engine.request(channelCh, ['port1']));
      sequenced.set(this.port2, engine.request(channelCh, ['port2']));
    }
  };

  Object.defineProperty(portProto, kHybridDispatch, {
    configurable: true,
    writable: true,
    value: function (this: Record<symbol, unknown>, data: unknown, type: unknown, event: unknown) {
      const reqId = sequenced.get(this);
      if (reqId === undefined) return dispatch.call(this, data, type, event);
      if (engine.recording) {
        engine.deliver(reqId, null);
        return dispatch.call(this, data, type, event);
      }
      // Replay: hold the message until the sequencer reaches its recorded turn.
      let entry = held.get(reqId);
      if (!entry) held.set(reqId, (entry = { port: this, queue: [] }));
      entry.queue.push({ data, type, event, ports: this[kCurrentlyReceivingPorts] });
      if (entry.queue.length === 1) {
        engine.expect(reqId, () => {
          const message = entry.queue.shift()!;
          if (entry.queue.length === 0) engine.forget(reqId);
          const port = entry.port as Record<symbol, unknown>;
          port[kCurrentlyReceivingPorts] = message.ports;
          try {
            dispatch.call(port, message.data, message.type, message.event);
          } finally {
            port[kCurrentlyReceivingPorts] = undefined;
          }
        }, true);
      }
      return undefined;
    },
  });

  for (const target of [workerThreads as object, globalThis as object]) {
    if (Object.getOwnPropertyDescriptor(target, 'MessageChannel')) {
      Object.defineProperty(target, 'MessageChannel', { value: Patched, writable: true, configurable: true, enumerable: target !== globalThis });
    }
  }
}
