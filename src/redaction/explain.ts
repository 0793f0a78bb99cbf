// Replay: when the program computes on a redacted value (an HMAC keyed with a redacted secret, a
// hash of a redacted token), nothing can reproduce what it computed when it was recorded. Replay
// watches the program's hashing and MAC calls for placeholders, so that a divergence can say
// which redacted value was involved and where the program used it.
import type { BinaryLike, KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { programLocation } from '../core/source-location.js';
import { real } from '../core/originals.js';
import { isPlaceholder, PLACEHOLDER } from './secrets.js';

interface Use {
  what: string;
  origin: string;
  location: string | null;
}

/** The CommonJS exports object of node:crypto: patching it reaches `import { createHmac }` after syncBuiltinESMExports. */
const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');

const uses: Use[] = [];
/** Placeholders the replayed environment holds, by value: their origin ("env API_KEY"). */
const envOrigins = new Map<string, string>();

/** Names the origin of a placeholder found in `value`, or null when it holds none. */
export function redactedOrigin(value: unknown): string | null {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (ArrayBuffer.isView(value) && value.byteLength <= 1 << 16) text = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
  else return null;
  const exact = envOrigins.get(text);
  if (exact) return exact;
  const m = PLACEHOLDER.exec(text);
  if (!m) return null;
  for (const [placeholder, origin] of envOrigins) if (placeholder.includes(m[0]) || m[0].includes(placeholder)) return origin;
  return 'a redacted value received by the program';
}

/** Replay: learns where the environment's placeholders came from, and watches hashing and MACs. */
export function watchRedactedUse(env: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== 'string' || name.startsWith('RETRACE_')) continue;
    if (isPlaceholder(value)) envOrigins.set(value, `env ${name}`);
    else for (const m of value.matchAll(new RegExp(PLACEHOLDER.source, 'g'))) envOrigins.set(m[0], `env ${name} (its URL's password)`);
  }
  const note = (what: string, value: unknown) => {
    const origin = redactedOrigin(value);
    if (!origin) return;
    if (uses.length >= 16) uses.shift();
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 50;
    const stack = new Error().stack;
    Error.stackTraceLimit = limit;
    uses.push({ what, origin, location: programLocation(stack, real.processCwd()) });
  };
  const createHmac = crypto.createHmac;
  (crypto as { createHmac: typeof crypto.createHmac }).createHmac = function (this: unknown, algorithm: string, key: BinaryLike | KeyObject, options?: any) {
    note(`an HMAC (${algorithm}) keyed with it`, key);
    return createHmac.call(this, algorithm, key, options);
  } as typeof crypto.createHmac;
  for (const [kind, make] of [['hash', () => crypto.createHash('sha256')], ['HMAC', () => createHmac('sha256', 'k')]] as const) {
    const proto = Object.getPrototypeOf(make()) as { update: (...args: unknown[]) => unknown };
    const update = proto.update;
    proto.update = function (this: unknown, data: unknown, ...rest: unknown[]) {
      note(`a ${kind} of it`, data);
      return update.call(this, data, ...rest);
    };
  }
}

/** For a divergent write: the program's uses of redacted values, most recent first, or null. */
export function describeRedacted(_recorded: Buffer, _now: Buffer, _at: number): string | null {
  if (uses.length === 0) return null;
  const last = uses[uses.length - 1]!;
  return `a redacted value was involved: the program computed ${last.what} from ${last.origin}, redacted${last.location ? `, at ${last.location}` : ''}; ` +
    'replay cannot reproduce bytes computed from a value the recording does not hold (record with --no-redact, or leave this value out of the rules)';
}

/**
 * Replay: TLS runs nowhere (sockets are stand-ins), but Node still builds a secure context from the
 * options a program passes to https.createServer, tls.connect... A private key the recording holds
 * as a placeholder cannot be parsed, so it is left out of the context: the rest (certificates, CA)
 * is built as given.
 */
export function tolerateRedactedKeys(): void {
  const tls = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  const createSecureContext = tls.createSecureContext;
  const redacted = (v: unknown): boolean =>
    Array.isArray(v) ? v.some((e) => redacted(e && typeof e === 'object' && 'pem' in e ? (e as { pem: unknown }).pem : e)) : redactedOrigin(v) !== null || (typeof v === 'string' && /-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n\*+\d*\r?\n/.test(v));
  (tls as { createSecureContext: typeof tls.createSecureContext }).createSecureContext = function (this: unknown, options?: import('node:tls').SecureContextOptions) {
    if (options && (redacted(options.key) || redacted(options.pfx))) {
      const usable = { ...options };
      if (redacted(options.key)) delete usable.key;
      if (redacted(options.pfx)) delete usable.pfx;
      delete usable.passphrase;
      return createSecureContext.call(this, usable);
    }
    return createSecureContext.call(this, options);
  } as typeof tls.createSecureContext;
}
