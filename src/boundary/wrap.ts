// Shared shapes of interception, so each boundary module only says what is specific to it:
// which arguments matter and how a recorded result becomes a live-looking value again.
import { createRequire } from 'node:module';
import type { Engine, Revive } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';

type AnyFn = (this: unknown, ...args: any[]) => any;

/** The arguments that matter for divergence, as an encodable value. */
export type KeyOf = (args: any[]) => unknown;

/** Copies the function's name and length so patched functions look like the originals. */
export function disguise<F extends AnyFn>(patched: F, original: AnyFn): F {
  Object.defineProperty(patched, 'name', { value: original.name, configurable: true });
  Object.defineProperty(patched, 'length', { value: original.length, configurable: true });
  return patched;
}

/** A synchronous call: recorded with its result or error; replayed from the recording. */
export function wrapSync(engine: Engine, name: string, original: AnyFn, keyOf: KeyOf, revive?: Revive<unknown>, resultOf?: (r: unknown) => unknown): AnyFn {
  const ch = engine.channel(name, Shape.Call);
  return disguise(function (this: unknown, ...args: any[]) {
    if (engine.passthrough) return original.apply(this, args);
    if (resultOf && engine.recording) {
      // The live result is not encodable as is (a class instance): record a plain form of it.
      let live: unknown;
      engine.call(ch, keyOf(args), () => resultOf((live = original.apply(this, args))));
      return live;
    }
    return engine.call(ch, keyOf(args), () => original.apply(this, args), revive);
  }, original);
}

/**
 * A Node callback API (last argument is the callback). The request is written when the call is made;
 * the callback's arguments are delivered when the event loop runs it, so replay runs it in the same turn.
 */
export interface CallbackOptions {
  reviveArgs?: (payload: unknown[]) => unknown[];
  recordArgs?: (cbArgs: unknown[]) => unknown[];
  /**
   * The API may call back within the same turn, through process.nextTick (crypto.randomInt from its
   * cache, dns.lookup of an IP literal): replay checks for the delivery at that tick too.
   */
  mayCallBackInTick?: boolean;
}

export function wrapCallback(engine: Engine, name: string, original: AnyFn, keyOf: KeyOf, options: CallbackOptions = {}): AnyFn {
  const { reviveArgs, recordArgs, mayCallBackInTick } = options;
  const ch = engine.channel(name, Shape.Request);
  return disguise(function (this: unknown, ...args: any[]) {
    const cbIndex = lastFunctionIndex(args);
    if (cbIndex < 0) return original.apply(this, args);
    if (engine.passthrough) {
      args[cbIndex] = unobservedCallback(engine, args[cbIndex] as AnyFn);
      return original.apply(this, args);
    }
    const callback = args[cbIndex] as AnyFn;
    const key = keyOf(args.slice(0, cbIndex));
    const reqId = engine.request(ch, key);
    if (engine.recording) {
      args[cbIndex] = function (this: unknown, ...cbArgs: unknown[]) {
        engine.deliver(reqId, recordArgs ? recordArgs(cbArgs) : cbArgs);
        return callback.apply(this, cbArgs);
      };
      return engine.unobserved(() => original.apply(this, args));
    }
    engine.expect(reqId, (payload) => {
      const cbArgs = payload as unknown[];
      callback.apply(undefined, reviveArgs ? reviveArgs(cbArgs) : cbArgs);
    });
    if (mayCallBackInTick) process.nextTick(() => engine.deliverIfNext(reqId));
    return undefined;
  }, original);
}

/** A promise API: the settlement is delivered in its recorded turn. Payload: [ok, value]. */
export function wrapPromise(engine: Engine, name: string, original: AnyFn, keyOf: KeyOf, revive?: Revive<unknown>, resultOf?: (r: unknown) => unknown): AnyFn {
  const ch = engine.channel(name, Shape.Request);
  return disguise(function (this: unknown, ...args: any[]) {
    if (engine.passthrough) return original.apply(this, args);
    const reqId = engine.request(ch, keyOf(args));
    return settle(engine, reqId, () => original.apply(this, args), revive, resultOf);
  }, original);
}

/** Record: passes the live promise's settlement through, delivering it. Replay: settles from the recording. */
export function settle<T>(engine: Engine, reqId: number, live: () => Promise<T>, revive?: Revive<unknown>, resultOf?: (r: unknown) => unknown): Promise<T> {
  if (engine.recording) {
    let promise: Promise<T>;
    try {
      promise = engine.unobserved(live);
    } catch (err) {
      engine.deliver(reqId, [false, err]);
      return Promise.reject(err);
    }
    return Promise.resolve(promise).then(
      (v) => {
        engine.deliver(reqId, [true, resultOf ? resultOf(v) : v]);
        return v;
      },
      (err) => {
        engine.deliver(reqId, [false, err]);
        throw err;
      },
    );
  }
  return new Promise<T>((resolve, reject) => {
    engine.expect(reqId, (payload) => {
      const [ok, value] = payload as [boolean, unknown];
      if (ok) resolve((revive ? revive(value) : value) as T);
      else reject(value);
    });
  });
}

/** A callback that runs with interception suspended, like the code that scheduled it. */
export function unobservedCallback<F extends AnyFn>(engine: Engine, callback: F): F {
  return function (this: unknown, ...args: unknown[]) {
    return engine.unobserved(() => callback.apply(this, args));
  } as F;
}

export function lastFunctionIndex(args: unknown[]): number {
  for (let i = args.length - 1; i >= 0; i--) {
    if (typeof args[i] === 'function') return i;
    if (args[i] !== undefined) return -1;
  }
  return -1;
}

/** Replaces `obj[key]` with `make(original)`, keeping the property's enumerability. */
export function patch<T extends object, K extends keyof T>(obj: T, key: K, make: (original: T[K]) => T[K]): void {
  const desc = Object.getOwnPropertyDescriptor(obj, key);
  const original = obj[key];
  if (typeof original !== 'function') return;
  if (desc && !desc.configurable) {
    if (!desc.writable) throw new Error(`cannot patch ${String(key)}: the property is fixed`);
    (obj as Record<K, T[K]>)[key] = make(original);
    return;
  }
  Object.defineProperty(obj, key, {
    value: make(original),
    writable: desc?.writable ?? true,
    enumerable: desc?.enumerable ?? true,
    configurable: true,
  });
}

const requireBuiltin = createRequire(import.meta.url);
/**
 * The mutable CommonJS exports object of a built-in module. ESM namespace objects (`import * as`)
 * are frozen views; patches go on the exports object, then syncBuiltinESMExports() updates the views.
 */
export function builtin<T = any>(name: string): T {
  return requireBuiltin(name) as T;
}
