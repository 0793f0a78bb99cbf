// Framing of one chunk: compression, transforms, header with lengths and checksum.
import * as zlib from 'node:zlib';
import { CHUNK_HEADER_SIZE, ChunkCodec, type ChunkType } from './format.js';

/**
 * A stage that sees each chunk's bytes after compression and before framing: the place where
 * encryption of recordings plugs in. Value-level redaction belongs in `ValueFilter`, before encoding.
 */
export interface ChunkTransform {
  /** The codec flag this transform sets in the chunk header. */
  readonly flag: number;
  encode(stored: Buffer): Buffer;
}

const crc32: (data: Uint8Array) => number = (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32;

/** The bytes of a chunk as written to the file: header, then stored bytes. */
export function frameChunk(
  type: ChunkType,
  raw: Uint8Array,
  level: number,
  deflate: (buf: Uint8Array, opts: zlib.ZlibOptions) => Buffer,
  transforms: readonly ChunkTransform[] = [],
): Buffer {
  let stored = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let codec = ChunkCodec.None as number;
  if (level > 0 && raw.length > 64) {
    stored = deflate(raw, { level });
    codec |= ChunkCodec.Deflate;
  }
  for (const t of transforms) {
    stored = t.encode(stored);
    codec |= t.flag;
  }
  const out = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + stored.length);
  out.writeUInt8(type, 0);
  out.writeUInt8(codec, 1);
  out.writeUInt32LE(raw.length, 2);
  out.writeUInt32LE(stored.length, 6);
  out.writeUInt32LE(crc32(stored) >>> 0, 10);
  stored.copy(out, CHUNK_HEADER_SIZE);
  return out;
}

/** One chunk, one write call (repeated only for a short write), so a kill leaves whole chunks. */
export function writeFully(fd: number, data: Uint8Array, write: (fd: number, buf: Uint8Array, off: number, len: number) => number): void {
  let off = 0;
  while (off < data.length) off += write(fd, data, off, data.length - off);
}

/**
 * Layout of the shared control words (Int32Array indices). The program's thread publishes chunks
 * (slot metadata, then PUBLISHED), the worker writes them in order and counts them in ACKED.
 */
export const Ctl = {
  /** Chunks handed to the worker so far. */
  PUBLISHED: 0,
  /** Chunks the worker has written to the file. */
  ACKED: 1,
  /** 1 once the worker failed or the program's thread took over writing. */
  FAILED: 2,
  /** 1 when the worker should finish: nothing more will be published. */
  STOP: 3,
  /** Per slot: type, ring offset, length. */
  SLOTS: 4,
} as const;
