// random: Math.random and the crypto module's random sources (randomBytes, randomFill(Sync),
// randomInt, randomUUID, getRandomValues, webcrypto / globalThis.crypto).
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';
import { builtin, disguise, patch, wrapCallback, wrapSync } from './wrap.js';

const crypto = builtin<typeof import('node:crypto')>('node:crypto');

export const randomBoundary: Boundary = {
  name: 'random',
  install(engine: Engine) {
    patchMathRandom(engine, Math);
    installCrypto(engine);
  },
};

/** Math.random of one realm (this one, or a vm context the program creates) crosses the boundary. */
export function patchMathRandom(engine: Engine, math: Math): void {
  const realRandom = math.random;
  const ch = engine.channel('random.Math.random', Shape.Value);
  math.random = disguise(function random() {
    return engine.float(ch, realRandom);
  }, realRandom);
}

type Filler = (buf: NodeJS.ArrayBufferView, offset?: number, size?: number) => NodeJS.ArrayBufferView;

function installCrypto(engine: Engine): void {
  patch(crypto, 'randomUUID', (o) => wrapSync(engine, 'crypto.randomUUID', o, () => []) as typeof o);
  patch(crypto, 'randomInt', (o) => {
    const sync = wrapSync(engine, 'crypto.randomInt', o, (args) => args);
    const withCallback = wrapCallback(engine, 'crypto.randomInt:callback', o, (args) => args, { mayCallBackInTick: true });
    return disguise(function randomInt(...args: unknown[]) {
      return typeof args[args.length - 1] === 'function' ? withCallback(...args) : sync(...args);
    }, o) as typeof o;
  });
  patch(crypto, 'randomBytes', (o) => bytesApi(engine, 'crypto.randomBytes', o) as typeof o);
  patch(crypto, 'pseudoRandomBytes' as keyof typeof crypto, (o) => bytesApi(engine, 'crypto.pseudoRandomBytes', o as never) as never);

  // Fillers write into the caller's buffer: the bytes written are the recorded result, copied in on replay.
  const fillRange = (buf: NodeJS.ArrayBufferView, offset = 0, size?: number) => {
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const unit = (buf as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    const start = offset * (ArrayBuffer.isView(buf) && !(buf instanceof DataView) ? 1 : unit);
    const end = size === undefined ? bytes.length : start + size;
    return { bytes, start, end };
  };
  const fillSyncCh = engine.channel('crypto.randomFillSync', Shape.Call);
  patch(crypto, 'randomFillSync', (o) => disguise(function randomFillSync(buf: NodeJS.ArrayBufferView, offset?: number, size?: number) {
    if (engine.passthrough) return (o as Filler)(buf, offset, size);
    const { bytes, start, end } = fillRange(buf, offset, size);
    const filled = engine.call(fillSyncCh, [end - start], () => {
      (o as Filler)(buf, offset, size);
      return Buffer.from(bytes.subarray(start, end));
    }) as Buffer;
    if (engine.replaying) bytes.set(filled, start);
    return buf;
  }, o) as typeof o);
  const fillCh = engine.channel('crypto.randomFill', Shape.Request);
  patch(crypto, 'randomFill', (o) => disguise(function randomFill(buf: NodeJS.ArrayBufferView, ...rest: unknown[]) {
    const cb = rest.pop() as (err: Error | null, buf: NodeJS.ArrayBufferView) => void;
    if (engine.passthrough) return (o as Function)(buf, ...rest, cb);
    const [offset, size] = rest as [number | undefined, number | undefined];
    const { bytes, start, end } = fillRange(buf, offset, size);
    const reqId = engine.request(fillCh, [end - start]);
    if (engine.recording) {
      return engine.unobserved(() => (o as Function)(buf, ...rest, (err: Error | null, out: NodeJS.ArrayBufferView) => {
        engine.deliver(reqId, [err, err ? null : Buffer.from(bytes.subarray(start, end))]);
        cb(err, out);
      }));
    }
    engine.expect(reqId, (payload) => {
      const [err, filled] = payload as [Error | null, Buffer | null];
      if (filled) bytes.set(filled, start);
      cb(err, buf);
    });
  }, o) as typeof o);

  // Web Crypto: globalThis.crypto is crypto.webcrypto; its methods live on Crypto.prototype.
  const webcrypto = crypto.webcrypto as unknown as { getRandomValues<T>(a: T): T; randomUUID(): string };
  const grvCh = engine.channel('crypto.getRandomValues', Shape.Call);
  const realGetRandomValues = webcrypto.getRandomValues;
  const getRandomValues = disguise(function getRandomValues<T extends ArrayBufferView | null>(array: T): T {
    if (engine.passthrough || !array) return realGetRandomValues.call(webcrypto, array as never) as T;
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    const filled = engine.call(grvCh, [array.byteLength], () => {
      realGetRandomValues.call(webcrypto, array as never);
      return Buffer.from(bytes);
    }) as Buffer;
    if (engine.replaying) bytes.set(filled);
    return array;
  }, realGetRandomValues);
  const realWebUUID = webcrypto.randomUUID;
  const webUUID = wrapSync(engine, 'crypto.randomUUID', function randomUUID() { return realWebUUID.call(webcrypto); }, () => []);
  for (const target of new Set([webcrypto, globalThis.crypto])) {
    Object.defineProperty(target, 'getRandomValues', { value: getRandomValues, writable: true, configurable: true, enumerable: true });
    Object.defineProperty(target, 'randomUUID', { value: disguise(webUUID, realWebUUID), writable: true, configurable: true, enumerable: true });
  }
  // crypto.getRandomValues is a fixed getter that forwards to webcrypto.getRandomValues, patched above.
}

/** randomBytes(size) and randomBytes(size, callback). */
function bytesApi(engine: Engine, name: string, original: (size: number, cb?: unknown) => Buffer): (...args: unknown[]) => unknown {
  const sync = wrapSync(engine, name, original, ([size]) => [size]);
  const withCallback = wrapCallback(engine, `${name}:callback`, original, ([size]) => [size]);
  return disguise(function randomBytes(...args: unknown[]) {
    return typeof args[1] === 'function' ? withCallback(...args) : sync(...args);
  }, original);
}
