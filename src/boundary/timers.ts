// timers: setTimeout, setInterval, setImmediate (globals and node:timers) and node:timers/promises.
//
// Record: the real timers run; each callback entering JavaScript is a delivery, so its turn among
// all other callbacks is in the trace. Replay: no real timer exists; the sequencer runs callbacks in
// their recorded turns without waiting for wall-clock time.
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';
import { builtin, disguise, unobservedCallback } from './wrap.js';

const timers = builtin<typeof import('node:timers')>('node:timers');
const timersPromises = builtin<typeof import('node:timers/promises')>('node:timers/promises');

type Callback = (...args: unknown[]) => void;

let nextPrimitiveId = 1;
const replayTimersById = new Map<number, ReplayTimer>();

/** What a replayed setTimeout/setInterval/setImmediate returns: the methods of Node's Timeout/Immediate. */
class ReplayTimer {
  private refed = true;
  private readonly id = nextPrimitiveId++;
  cleared = false;

  constructor(
    private readonly engine: Engine,
    readonly reqId: number,
    callback: Callback,
    private readonly args: unknown[],
    readonly repeat: boolean,
    readonly isImmediate: boolean,
  ) {
    // Where Node keeps it: a stack in the callback names the receiver and property as Node's does.
    Object.defineProperty(this, isImmediate ? '_onImmediate' : '_onTimeout', { value: callback, writable: true, configurable: true, enumerable: false });
    engine.expect(reqId, () => this.fire(), repeat);
  }

  private fired = false;

  private fire(): void {
    if (this.cleared) return;
    if (!this.repeat) {
      this.cleared = true;
      this.fired = true;
    }
    const callback = (this as unknown as Record<string, Callback>)[this.isImmediate ? '_onImmediate' : '_onTimeout']!;
    callback.apply(this, this.args);
  }

  clear(): void {
    if (this.cleared) return;
    this.cleared = true;
    this.engine.forget(this.reqId);
    replayTimersById.delete(this.id);
  }

  ref(): this {
    this.refed = true;
    return this;
  }

  unref(): this {
    this.refed = false;
    return this;
  }

  hasRef(): boolean {
    return this.refed;
  }

  /**
   * The recording says when the timer fires: re-arming a pending timer changes nothing in replay.
   * But Node re-arms a timeout that has already fired (undici's fetch timers rely on it), and the
   * recording then holds a second firing of the same request: expect it again.
   */
  refresh(): this {
    if (this.fired && !this.isImmediate) {
      this.fired = false;
      this.cleared = false;
      this.engine.expect(this.reqId, () => this.fire(), false);
    }
    return this;
  }

  close(): this {
    this.clear();
    return this;
  }

  [Symbol.toPrimitive](): number {
    replayTimersById.set(this.id, this);
    return this.id;
  }

  [Symbol.dispose](): void {
    this.clear();
  }
}

/** Named as Node's timer classes: the receiver a stack shows for a callback (`Immediate.<anonymous>`). */
class Timeout extends ReplayTimer {}
class Immediate extends ReplayTimer {}

export const timersBoundary: Boundary = {
  name: 'timers',
  install(engine: Engine) {
    const real = {
      setTimeout: timers.setTimeout,
      setInterval: timers.setInterval,
      setImmediate: timers.setImmediate,
      clearTimeout: timers.clearTimeout,
      clearInterval: timers.clearInterval,
      clearImmediate: timers.clearImmediate,
    };
    const timeoutCh = engine.channel('timers.setTimeout', Shape.Request);
    const intervalCh = engine.channel('timers.setInterval', Shape.Request);
    const immediateCh = engine.channel('timers.setImmediate', Shape.Request);

    function schedule(ch: number, repeat: boolean, isImmediate: boolean, original: Function, callback: unknown, delay: unknown, args: unknown[]) {
      if (typeof callback !== 'function' || engine.passthrough) {
        // Work deferred by unobserved code (a loader's cache cleanup) stays unobserved when it runs.
        const cb = typeof callback === 'function' ? unobservedCallback(engine, callback as Callback) : callback;
        return isImmediate ? original(cb, ...args) : original(cb, delay, ...args);
      }
      const reqId = engine.request(ch, isImmediate ? [] : [delay === undefined ? null : delay]);
      if (engine.recording) {
        const wrapped = function (this: unknown, ...cbArgs: unknown[]) {
          engine.deliver(reqId, null);
          return (callback as Callback).apply(this, cbArgs);
        };
        return isImmediate ? original(wrapped, ...args) : original(wrapped, delay, ...args);
      }
      return new (isImmediate ? Immediate : Timeout)(engine, reqId, callback as Callback, args, repeat, isImmediate);
    }

    function clear(original: Function, handle: unknown): void {
      if (handle instanceof ReplayTimer) return handle.clear();
      if ((typeof handle === 'number' || typeof handle === 'string') && replayTimersById.has(Number(handle))) {
        return replayTimersById.get(Number(handle))!.clear();
      }
      original(handle);
    }

    const patched = {
      setTimeout: disguise(function setTimeout(cb: unknown, delay?: unknown, ...args: unknown[]) {
        return schedule(timeoutCh, false, false, real.setTimeout, cb, delay, args);
      }, real.setTimeout),
      setInterval: disguise(function setInterval(cb: unknown, delay?: unknown, ...args: unknown[]) {
        return schedule(intervalCh, true, false, real.setInterval, cb, delay, args);
      }, real.setInterval),
      setImmediate: disguise(function setImmediate(cb: unknown, ...args: unknown[]) {
        return schedule(immediateCh, false, true, real.setImmediate, cb, undefined, args);
      }, real.setImmediate),
      clearTimeout: disguise(function clearTimeout(handle: unknown) {
        clear(real.clearTimeout, handle);
      }, real.clearTimeout),
      clearInterval: disguise(function clearInterval(handle: unknown) {
        clear(real.clearInterval, handle);
      }, real.clearInterval),
      clearImmediate: disguise(function clearImmediate(handle: unknown) {
        clear(real.clearImmediate, handle);
      }, real.clearImmediate),
    };
    // util.promisify(setTimeout) and friends look for this symbol on the function.
    for (const name of ['setTimeout', 'setImmediate'] as const) {
      const custom = Symbol.for('nodejs.util.promisify.custom');
      Object.defineProperty(patched[name], custom, {
        value: name === 'setTimeout' ? promisesApi.setTimeout : promisesApi.setImmediate,
        configurable: true,
      });
    }
    for (const [name, fn] of Object.entries(patched)) {
      Object.defineProperty(globalThis, name, { value: fn, writable: true, configurable: true, enumerable: true });
      Object.defineProperty(timers, name, { value: fn, writable: true, configurable: true, enumerable: true });
    }
    installPromises(patched);
    installAbortSignalTimeout(patched.setTimeout);
  },
};

/**
 * AbortSignal.timeout uses Node's internal timers, which the patch above does not reach: rebuilt on
 * the patched setTimeout so the abort fires in its recorded turn. Like Node's, the timer does not
 * keep the process alive.
 */
function installAbortSignalTimeout(setTimeoutPatched: (cb: () => void, ms: number) => { unref?(): unknown }): void {
  const original = AbortSignal.timeout;
  Object.defineProperty(AbortSignal, 'timeout', {
    value: disguise(function timeout(delay: number) {
      if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) return original.call(AbortSignal, delay);
      const controller = new AbortController();
      setTimeoutPatched(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), delay).unref?.();
      return controller.signal;
    }, original),
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

// ---- node:timers/promises, built on the patched callback timers so both modes share one path ----

let active: { setTimeout: Function; setInterval: Function; setImmediate: Function; clearTimeout: Function; clearInterval: Function; clearImmediate: Function };

interface TimerOptions {
  signal?: AbortSignal;
  ref?: boolean;
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  Object.defineProperty(err, 'name', { value: 'AbortError', configurable: true, writable: true });
  return Object.assign(err, { code: 'ABORT_ERR' });
}

function once<T>(start: (done: () => void) => { clear(): void; handle: { unref?(): unknown } }, value: T, options: TimerOptions = {}): Promise<T> {
  const { signal, ref = true } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      timer.clear();
      reject(abortError(signal!));
    };
    const timer = start(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(value);
    });
    if (!ref) timer.handle.unref?.();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const promisesApi = {
  setTimeout<T = void>(delay?: number, value?: T, options?: TimerOptions): Promise<T> {
    return once((done) => {
      const handle = active.setTimeout(done, delay);
      return { handle, clear: () => active.clearTimeout(handle) };
    }, value as T, options);
  },
  setImmediate<T = void>(value?: T, options?: TimerOptions): Promise<T> {
    return once((done) => {
      const handle = active.setImmediate(done);
      return { handle, clear: () => active.clearImmediate(handle) };
    }, value as T, options);
  },
  async *setInterval<T = void>(delay?: number, value?: T, options: TimerOptions = {}): AsyncGenerator<T> {
    const { signal, ref = true } = options;
    if (signal?.aborted) throw abortError(signal);
    let ticks = 0;
    let wake: (() => void) | null = null;
    const handle = active.setInterval(() => {
      ticks++;
      wake?.();
      wake = null;
    }, delay);
    if (!ref) handle.unref?.();
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (ticks === 0 && !aborted) await new Promise<void>((resolve) => (wake = resolve));
        if (aborted) throw abortError(signal!);
        ticks--;
        yield value as T;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      active.clearInterval(handle);
    }
  },
};

function installPromises(patched: typeof active): void {
  active = patched;
  const scheduler = {
    wait: (delay: number, options?: TimerOptions) => promisesApi.setTimeout(delay, undefined, options),
    yield: () => promisesApi.setImmediate(),
  };
  for (const [name, value] of Object.entries({ ...promisesApi, scheduler })) {
    Object.defineProperty(timersPromises, name, { value, writable: true, configurable: true, enumerable: true });
  }
  if ((timers as { promises?: unknown }).promises) {
    Object.defineProperty(timers, 'promises', { value: timersPromises, writable: true, configurable: true, enumerable: true });
  }
}
