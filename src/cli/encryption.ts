// Encryption at rest with age (docs/security.md): making a recording key wrapped to the
// recipients when recording, and unwrapping it with the user's identity before reading. The age
// library is asynchronous, so both happen here in the CLI, before the recorded program starts and
// before a recording is opened; the recording and reading code itself stays synchronous. The age
// library is loaded only when a recording is encrypted.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { addRecordingKey, RECORDING_KEY_BYTES } from '../core/trace/crypto.js';
import { CHUNK_HEADER_SIZE, ChunkType, MAGIC, PREAMBLE_SIZE, type TraceKey } from '../core/trace/format.js';
import { TRACE_FILE_PATTERN } from '../runtime/paths.js';
import { UsageError } from './recording.js';

/** The environment variable naming recipients when --encrypt-to is not given. */
export const ENCRYPT_TO_ENV = 'RETRACE_ENCRYPT_TO';
/** The environment variable naming an identity file when --identity is not given. */
export const IDENTITY_ENV = 'RETRACE_IDENTITY';

export function recipientsFromEnv(): string[] {
  const v = process.env[ENCRYPT_TO_ENV];
  return v ? v.split(/[\s,]+/).filter(Boolean) : [];
}

/** Lines of a key file, without comments and blank lines. */
function keyLines(file: string, what: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** Recipients as given: an `age1...` public key, or a file of them (one a line, like age -R). */
function expandRecipients(given: string[]): string[] {
  const out: string[] = [];
  for (const r of given) out.push(...(r.startsWith('age1') ? [r] : keyLines(r, 'recipients')));
  if (out.length === 0) throw new UsageError('--encrypt-to names no recipient');
  return out;
}

/** A fresh recording key and the age file that wraps it for the recipients. */
export async function newRecordingKey(given: string[]): Promise<{ key: Buffer; age: string }> {
  const { Encrypter } = await import('age-encryption');
  const key = randomBytes(RECORDING_KEY_BYTES);
  const e = new Encrypter();
  for (const r of expandRecipients(given)) {
    try {
      e.addRecipient(r);
    } catch (err) {
      throw new UsageError(`--encrypt-to: "${r.length > 80 ? `${r.slice(0, 80)}...` : r}" is not an age recipient (${(err as Error).message})`);
    }
  }
  const age = Buffer.from(await e.encrypt(key)).toString('base64');
  return { key, age };
}

/** The identity files given (--identity), else the one RETRACE_IDENTITY names. */
export function identityFiles(given: string[]): string[] {
  if (given.length > 0) return given;
  return process.env[IDENTITY_ENV] ? [process.env[IDENTITY_ENV]!] : [];
}

/** The key chunk of a trace file, when it is an encrypted recording (read without the rest of the file). */
function readKeyChunk(file: string): TraceKey | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(PREAMBLE_SIZE + CHUNK_HEADER_SIZE);
    if (fs.readSync(fd, head, 0, head.length, 0) < head.length || !head.subarray(0, MAGIC.length).equals(MAGIC)) return null;
    if (head.readUInt16LE(MAGIC.length) < 3 || head.readUInt8(PREAMBLE_SIZE) !== ChunkType.Key) return null;
    const length = head.readUInt32LE(PREAMBLE_SIZE + 10);
    if (length > 1 << 20) return null;
    const body = Buffer.alloc(length);
    if (fs.readSync(fd, body, 0, length, head.length) < length) return null;
    const v = JSON.parse(body.toString('utf8')) as TraceKey;
    return typeof v?.age === 'string' && typeof v.salt === 'string' ? v : null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Trace files at a location given on the command line (a recording folder or one trace file). */
function traceFilesAt(location: string): string[] {
  try {
    const stat = fs.statSync(location);
    if (stat.isFile()) return [location];
    return fs.readdirSync(location).filter((n) => TRACE_FILE_PATTERN.test(n)).map((n) => path.join(location, n));
  } catch {
    return [];
  }
}

/**
 * Before a reading command opens anything: unwraps the recording key of every encrypted recording
 * its arguments name (and ./recording) with the identities given, so the synchronous reader can
 * decrypt. Without identities nothing happens: opening an encrypted trace then says what is needed.
 */
export async function unlockRecordings(args: string[], identityFiles: string[]): Promise<void> {
  if (identityFiles.length === 0) return;
  const ages = new Set<string>();
  for (const location of new Set([...args.filter((a) => !a.startsWith('-')), 'recording'])) {
    for (const file of traceFilesAt(location)) {
      const k = readKeyChunk(file);
      if (k) ages.add(k.age);
    }
  }
  if (ages.size === 0) return;
  const { Decrypter } = await import('age-encryption');
  const d = new Decrypter();
  for (const file of identityFiles) {
    const lines = keyLines(file, 'identity').filter((l) => l.startsWith('AGE-SECRET-KEY-'));
    if (lines.length === 0) throw new UsageError(`${file} holds no age identity (AGE-SECRET-KEY-...)`);
    for (const l of lines) {
      try {
        d.addIdentity(l);
      } catch {
        throw new UsageError(`${file} holds a line that is not a valid age identity`);
      }
    }
  }
  for (const age of ages) {
    let key: Uint8Array;
    try {
      key = await d.decrypt(Buffer.from(age, 'base64'));
    } catch {
      throw new UsageError(`the recording cannot be decrypted with ${identityFiles.join(', ')}: it was encrypted to another recipient`);
    }
    addRecordingKey(age, key);
  }
}

/** A new age identity (compatible with age-keygen) as the text of its file, and its recipient. */
export async function newIdentity(): Promise<{ text: string; recipient: string }> {
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption');
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  return { text: `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, recipient };
}
