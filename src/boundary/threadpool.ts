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
  },
};

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
