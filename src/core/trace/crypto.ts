// Encryption of trace chunks (format 3, docs/security.md). The recording key is 32 random bytes
// made by `retrace record --encrypt-to` and stored in each trace file only inside an age file
// encrypted to the recipients (the key chunk); this module is the synchronous part the recording
// process and the reader need: each trace file derives its own chunk key from the recording key
// and a random salt (HKDF-SHA-256), and each chunk is sealed with ChaCha20-Poly1305 under a nonce
// made of its sequence number, authenticating the chunk header (type, codec, sequence, length).
// Every chunk is sealed on its own, so every chunk written before a crash can be decrypted.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ChunkCodec, type TraceKey } from './format.js';
import type { ChunkTransform } from './chunks.js';

const TAG_BYTES = 16;
export const RECORDING_KEY_BYTES = 32;
const SALT_BYTES = 16;
const INFO = 'retrace-node trace chunks v1';

function nonce(seq: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(seq >>> 0, 0);
  return n;
}

export function deriveChunkKey(recordingKey: Uint8Array, salt: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', recordingKey, salt, INFO, 32));
}

/** A fresh salt for one trace file's key chunk. */
export function newSalt(): Buffer {
  return randomBytes(SALT_BYTES);
}

/** Seals chunks for one trace file. */
export class ChunkSealer implements ChunkTransform {
  readonly flag = ChunkCodec.Encrypted;
  constructor(private readonly chunkKey: Buffer) {}

  encode(stored: Buffer, seq: number, aad: Buffer): Buffer {
    const c = createCipheriv('chacha20-poly1305', this.chunkKey, nonce(seq), { authTagLength: TAG_BYTES });
    c.setAAD(aad, { plaintextLength: stored.length });
    const body = c.update(stored);
    c.final();
    return Buffer.concat([body, c.getAuthTag()]);
  }
}

/** Opens one sealed chunk; null when it does not authenticate (wrong key, or damaged). */
export function openChunk(chunkKey: Buffer, stored: Buffer, seq: number, aad: Buffer): Buffer | null {
  if (stored.length < TAG_BYTES) return null;
  const d = createDecipheriv('chacha20-poly1305', chunkKey, nonce(seq), { authTagLength: TAG_BYTES });
  d.setAAD(aad, { plaintextLength: stored.length - TAG_BYTES });
  d.setAuthTag(stored.subarray(stored.length - TAG_BYTES));
  const body = d.update(stored.subarray(0, stored.length - TAG_BYTES));
  try {
    d.final();
  } catch {
    return null;
  }
  return body;
}

/**
 * Recording keys this process knows, by the age file that wraps them (the CLI unwraps them with
 * the user's identity before reading; a replayed process is handed its key by the CLI).
 */
const known = new Map<string, Buffer>();

export function addRecordingKey(age: string, key: Uint8Array): void {
  if (key.length === RECORDING_KEY_BYTES) known.set(age, Buffer.from(key));
}

export function recordingKeyFor(traceKey: TraceKey): Buffer | undefined {
  return known.get(traceKey.age);
}

/** The (age file, key) pairs known, to hand to a replayed process. */
export function knownRecordingKeys(): [string, Buffer][] {
  return [...known];
}
