// Framing of one chunk: compression, transforms, header with lengths and checksum.
import * as zlib from 'node:zlib';
import { CHUNK_AAD_SIZE, CHUNK_HEADER_SIZE, ChunkCodec, PREAMBLE_SIZE, type ChunkType } from './format.js';

/**
 * A stage that sees each chunk's bytes after compression and before framing: the place where
 * encryption of recordings plugs in. Value-level redaction belongs in `ValueFilter`, before encoding.
 */
export interface ChunkTransform {
  /** The codec flag this transform sets in the chunk header. */
  readonly flag: number;
  /**
   * `aad` is the chunk header's first CHUNK_AAD_SIZE bytes (type, codec, sequence number, raw
   * length), which an encrypting transform authenticates so that a chunk cannot be moved or relabelled.
   */
  encode(stored: Buffer, seq: number, aad: Buffer): Buffer;
}

const crc32: (data: Uint8Array) => number = (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32;

/** The bytes of a chunk as written to the file: header, then stored bytes. */
export function frameChunk(
  type: ChunkType,
  seq: number,
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
  for (const t of transforms) codec |= t.flag;
  const aad = Buffer.allocUnsafe(CHUNK_AAD_SIZE);
  aad.writeUInt8(type, 0);
  aad.writeUInt8(codec, 1);
  aad.writeUInt32LE(seq >>> 0, 2);
  aad.writeUInt32LE(raw.length, 6);
  for (const t of transforms) stored = t.encode(stored, seq, aad);
  const out = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + stored.length);
  aad.copy(out, 0);
  out.writeUInt32LE(stored.length, 10);
  out.writeUInt32LE(crc32(stored) >>> 0, 14);
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
  /** Per slot (SLOT_WORDS words): type, ring offset, length, sequence number. */
  SLOTS: 4,
} as const;

/** Control words per ring slot. */
export const SLOT_WORDS = 4;

/**
 * Cuts a trace file back to its last whole chunk (after a failed write left part of one), so that
 * the trace ends at the last good chunk. Reads only chunk headers. Returns the sequence number the
 * next chunk must have.
 */
export function truncateToWholeChunks(fd: number, fs: {
  fstatSync(fd: number): { size: number };
  readSync(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  ftruncateSync(fd: number, len: number): void;
}): number {
  const size = fs.fstatSync(fd).size;
  const header = Buffer.alloc(CHUNK_HEADER_SIZE);
  let pos = PREAMBLE_SIZE;
  let nextSeq = 0;
  while (pos + CHUNK_HEADER_SIZE <= size) {
    if (fs.readSync(fd, header, 0, CHUNK_HEADER_SIZE, pos) < CHUNK_HEADER_SIZE) break;
    const end = pos + CHUNK_HEADER_SIZE + header.readUInt32LE(10);
    if (end > size) break;
    nextSeq = header.readUInt32LE(2) + 1;
    pos = end;
  }
  if (pos > size) pos = size;
  if (pos < size) fs.ftruncateSync(fd, pos);
  return nextSeq;
}
