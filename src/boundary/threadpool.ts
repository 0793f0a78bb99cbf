// threadpool: work whose result is deterministic but whose completion order is not — zlib's
// one-shot callback APIs, crypto.pbkdf2/scrypt/hkdf, and Web Crypto's digest/sign/derive. Their
// results need no recording: replay computes them again, and each callback (or promise
// settlement) waits for its recorded turn, so two racing jobs finish in the recorded order.
//
// Replay computes zlib and pbkdf2/scrypt/hkdf results with their synchronous forms, at the call:
// a live threadpool completion would enter JavaScript at a moment unrelated to the recording, and
// the drain of the nextTick and microtask queues that follows any callback would run the
// program's queued work out of its recorded turn (after a handled exception, notably).
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';
import { builtin, disguise, lastFunctionIndex, patch } from './wrap.js';

const zlib = builtin<typeof import('node:zlib')>('node:zlib');
const crypto = builtin<typeof import('node:crypto')>('node:crypto');

type AnyFn = (...args: any[]) => any;

const ZLIB_ONE_SHOT = [
  'deflate', 'deflateRaw', 'gzip', 'inflate', 'inflateRaw', 'gunzip', 'unzip',
  'brotliCompress', 'brotliDecompress', 'zstdCompress', 'zstdDecompress',
] as const;

/** The size of the input is a cheap check that the program asked for the same work; the bytes stay out of the trace. */
const byteLength = (data: unknown): number | null => {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (data instanceof ArrayBuffer) return data.byteLength;
  return null;
};

export const threadpoolBoundary: Boundary = {
  name: 'threadpool',
  install(engine: Engine) {
    for (const name of ZLIB_ONE_SHOT) {
      const syncForm = (zlib as unknown as Record<string, AnyFn>)[`${name}Sync`];
      if (typeof zlib[name] === 'function' && typeof syncForm === 'function') {
        // zlib reports bad data to the callback (Z_DATA_ERROR...), bad arguments by throwing.
        const compute = oneShot(syncForm, (err) => typeof (err as { code?: unknown }).code === 'string' && /^Z_/.test((err as { code: string }).code));
        patch(zlib, name, (o) => sequenced(engine, `zlib.${name}`, o as AnyFn, ([data]) => [byteLength(data)], compute) as never);
      }
    }
    // Passwords and salts stay out of the trace: the parameters that shape the work are enough.
    // Their callback forms throw every error synchronously (bad arguments), as the sync forms do.
    const neverToCallback = () => false;
    patch(crypto, 'pbkdf2', (o) => sequenced(engine, 'crypto.pbkdf2', o, ([, , iterations, keylen, digest]) => [iterations, keylen, digest], oneShot(crypto.pbkdf2Sync, neverToCallback)) as typeof o);
    patch(crypto, 'scrypt', (o) => sequenced(engine, 'crypto.scrypt', o, ([, , keylen]) => [keylen], oneShot(crypto.scryptSync, neverToCallback)) as typeof o);
    patch(crypto, 'hkdf', (o) => sequenced(engine, 'crypto.hkdf', o, ([digest, , , , keylen]) => [digest, keylen], oneShot(crypto.hkdfSync, neverToCallback)) as typeof o);
    installSubtle(engine);
    installZlibStreams(engine);
  },
};

/** The native handle behind a zlib stream (`stream._handle`): Zlib, BrotliEncoder/Decoder, Zstd*. */
interface ZlibHandle {
  write(...args: unknown[]): void;
  writeSync(...args: unknown[]): void;
  [REQUEST]?: number;
  [PROCESS_CALLBACK]?: AnyFn;
  [UNOBSERVED]?: boolean;
}
const REQUEST = Symbol('retrace.zlib.request');
const PROCESS_CALLBACK = Symbol('retrace.zlib.processCallback');
const UNOBSERVED = Symbol('retrace.zlib.unobserved');

/**
 * zlib streams (createGzip, createDeflate, createBrotliCompress... and the decompressors, piped
 * request and response bodies): each chunk goes to the thread pool with the handle's async
 * `write`, and Node's processCallback (given to the handle's `init`) runs when it completes, pushing
 * output and writing the next piece. Record logs each write as a request and the completion as its
 * delivery; replay computes the same output at the write with the handle's `writeSync` (the output
 * is deterministic, so no bytes are stored) and runs processCallback in its recorded turn.
 */
function installZlibStreams(engine: Engine): void {
  const ch = engine.channel('zlib.stream.write', Shape.Request);
  const makers: (() => import('node:stream').Transform & { _handle?: object; close(): void })[] = [
    () => zlib.createGzip(),
    () => zlib.createBrotliCompress(),
    () => zlib.createBrotliDecompress(),
  ];
  const z = zlib as unknown as Record<string, unknown>;
  if (typeof z.createZstdCompress === 'function') makers.push(() => (z.createZstdCompress as AnyFn)(), () => (z.createZstdDecompress as AnyFn)());
  const prototypes = new Set<Record<string, AnyFn>>();
  for (const make of makers) {
    const sample = make();
    if (sample._handle) prototypes.add(Object.getPrototypeOf(sample._handle) as Record<string, AnyFn>);
    sample.close();
  }
  for (const proto of prototypes) {
    const init = proto.init;
    const write = proto.write;
    if (typeof init !== 'function' || typeof write !== 'function' || typeof proto.writeSync !== 'function') continue;
    proto.init = disguise(function (this: ZlibHandle, ...args: unknown[]) {
      // Zlib's init(windowBits, level, memLevel, strategy, writeState, processCallback, dictionary, ...),
      // Brotli's and Zstd's init(params, writeState, processCallback).
      const at = args.findIndex((a) => typeof a === 'function');
      // Streams made inside a recorded one-shot call (zlib.gzip's own stream) are its work.
      this[UNOBSERVED] = engine.passthrough;
      if (at >= 0 && !this[UNOBSERVED]) {
        const processCallback = args[at] as AnyFn;
        this[PROCESS_CALLBACK] = processCallback;
        args[at] = function (this: ZlibHandle, ...rest: unknown[]) {
          const reqId = this[REQUEST];
          this[REQUEST] = undefined;
          if (reqId !== undefined) engine.deliver(reqId, null);
          return processCallback.apply(this, rest);
        };
      }
      return init.apply(this, args);
    } as AnyFn, init);
    proto.write = disguise(function (this: ZlibHandle, ...args: unknown[]) {
      if (this[UNOBSERVED] || engine.passthrough || !this[PROCESS_CALLBACK]) return write.apply(this, args);
      // (flush, in, in_off, in_len, out, out_off, out_len): the sizes are a cheap check of the same work.
      const reqId = engine.request(ch, [args[0], args[3], args[6]]);
      if (engine.recording) {
        this[REQUEST] = reqId;
        return write.apply(this, args);
      }
      engine.unobserved(() => this.writeSync(...args));
      const processCallback = this[PROCESS_CALLBACK];
      engine.expect(reqId, () => processCallback.call(this));
      return undefined;
    } as AnyFn, write);
  }
}

/** Computes a callback API's result now with its synchronous form: the callback's arguments. */
type ComputeNow = (args: unknown[]) => unknown[];

function oneShot(syncForm: AnyFn, reportedToCallback: (err: unknown) => boolean): ComputeNow {
  return (args) => {
    try {
      return [null, syncForm(...args)];
    } catch (err) {
      if (reportedToCallback(err)) return [err];
      throw err;
    }
  };
}

/**
 * A callback API run live when recording; in replay its result is computed at the call (or, with
 * no synchronous form, live) and its callback is held until its recorded turn.
 */
function sequenced(engine: Engine, name: string, original: AnyFn, keyOf: (args: unknown[]) => unknown, computeNow?: ComputeNow): AnyFn {
  const ch = engine.channel(name, Shape.Request);
  return disguise(function (this: unknown, ...args: unknown[]) {
    const cbIndex = lastFunctionIndex(args);
    if (engine.passthrough || cbIndex < 0) return original.apply(this, args);
    const callback = args[cbIndex] as AnyFn;
    const reqId = engine.request(ch, keyOf(args.slice(0, cbIndex)));
    if (engine.replaying && computeNow) {
      const result = engine.unobserved(() => computeNow(args.slice(0, cbIndex)));
      engine.expect(reqId, () => callback(...result));
      return undefined;
    }
    args[cbIndex] = engine.recording
      ? function (this: unknown, ...result: unknown[]) {
          engine.deliver(reqId, null);
          return callback.apply(this, result);
        }
      : replayCallback(engine, reqId, callback);
    return engine.unobserved(() => original.apply(this, args));
  }, original);
}

/** Replay: the real result arrives whenever it does; the program sees it in its recorded turn. */
function replayCallback(engine: Engine, reqId: number, callback: AnyFn): AnyFn {
  const done = engine.realWork();
  return (...result: unknown[]) => {
    done();
    engine.expect(reqId, () => callback(...result));
    // Completing live just when the recording delivers it (a microtask-settled importKey): now is its turn.
    engine.deliverIfNext(reqId);
  };
}

const SUBTLE_DETERMINISTIC = ['digest', 'importKey', 'exportKey', 'sign', 'verify', 'deriveBits', 'deriveKey', 'decrypt', 'encrypt', 'wrapKey', 'unwrapKey'] as const;

function installSubtle(engine: Engine): void {
  const subtle = (crypto.webcrypto as unknown as { subtle: Record<string, AnyFn> }).subtle;
  for (const name of SUBTLE_DETERMINISTIC) {
    const original = subtle[name];
    if (typeof original !== 'function') continue;
    const ch = engine.channel(`crypto.subtle.${name}`, Shape.Request);
    const method = disguise(function (this: unknown, ...args: unknown[]) {
      if (engine.passthrough) return original.apply(this, args);
      const algorithm = args[0];
      const reqId = engine.request(ch, [typeof algorithm === 'string' ? algorithm : (algorithm as { name?: string } | undefined)?.name ?? null]);
      const live = engine.unobserved(() => original.apply(this, args) as Promise<unknown>);
      if (engine.recording) {
        const mark = () => engine.deliver(reqId, null);
        return live.then((v) => (mark(), v), (e: unknown) => (mark(), Promise.reject(e)));
      }
      return new Promise((resolve, reject) => {
        const settleInTurn = replayCallback(engine, reqId, (ok: boolean, value: unknown) => (ok ? resolve(value) : reject(value)));
        live.then((v) => settleInTurn(true, v), (e: unknown) => settleInTurn(false, e));
      });
    }, original);
    Object.defineProperty(subtle, name, { value: method, writable: true, configurable: true, enumerable: true });
  }
}
