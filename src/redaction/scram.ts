// Replay of a PostgreSQL SCRAM-SHA-256 login whose secrets were redacted. The client checks the
// server's final signature, which only someone who knows the password can compute; the recording
// holds a placeholder instead (the signature allows an offline guess of the password). In replay
// the program logs in with the placeholder password it was given (from its redacted environment),
// so replay can compute the signature the client expects: it finds which of the placeholders it
// knows makes the client proof the program sent, and signs with that one. Nothing here runs while
// recording.
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { real } from '../core/originals.js';
import { isPlaceholder } from './secrets.js';

export interface ScramExchange {
  clientFirstBare?: string;
  serverFirst?: string;
  clientFinalWithoutProof?: string;
  proof?: string;
}

/** SASLInitialResponse (mechanism, length, client-first-message) or SASLResponse (client-final-message). */
export function noteClientScram(scram: ScramExchange, payload: Buffer, initial: boolean): void {
  if (initial) {
    const nul = payload.indexOf(0);
    if (nul < 0 || nul + 5 > payload.length) return;
    const message = payload.toString('utf8', nul + 5);
    // The GS2 header ("n,,") comes before the bare message.
    const second = message.indexOf(',', message.indexOf(',') + 1);
    scram.clientFirstBare = message.slice(second + 1);
  } else {
    const message = payload.toString('utf8');
    const at = message.lastIndexOf(',p=');
    if (at < 0) return;
    scram.clientFinalWithoutProof = message.slice(0, at);
    scram.proof = message.slice(at + 3);
  }
}

const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:([^@/?#\s]+)@/gi;

/** The passwords the program may have used: placeholders in its (replayed) environment. */
function candidates(): string[] {
  const out = new Set<string>();
  for (const value of Object.values(process.env)) {
    if (typeof value !== 'string') continue;
    if (isPlaceholder(value)) out.add(value);
    for (const m of value.matchAll(URL_PASSWORD)) {
      try {
        out.add(decodeURIComponent(m[1]!));
      } catch {
        out.add(m[1]!);
      }
    }
  }
  return [...out];
}

/** The server-final-message the client expects, or null when no known placeholder made its proof. */
export function scramServerFinal(scram: ScramExchange): Buffer | null {
  const { clientFirstBare, serverFirst, clientFinalWithoutProof, proof } = scram;
  if (clientFirstBare === undefined || serverFirst === undefined || clientFinalWithoutProof === undefined || proof === undefined) return null;
  const attrs = new Map(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as const));
  const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
  const iterations = Number(attrs.get('i'));
  if (!Number.isSafeInteger(iterations) || iterations <= 0 || iterations > 1_000_000) return null;
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  for (const password of candidates()) {
    const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const signature = hmac(storedKey, authMessage);
    const made = Buffer.alloc(clientKey.length);
    for (let i = 0; i < made.length; i++) made[i] = clientKey[i]! ^ signature[i]!;
    if (made.toString('base64') !== proof) continue;
    return Buffer.from(`v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`);
  }
  real.writeSync(2, 'retrace: the PostgreSQL SCRAM login cannot be replayed: the program did not log in with a redacted password from its environment, and the recording holds no server signature for it (record with --no-redact; docs/security.md)\n');
  return null;
}
