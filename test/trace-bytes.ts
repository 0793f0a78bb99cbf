// Test support: a trace file's chunks as bytes, to craft damaged and hostile recordings. It reads
// the file layout of docs/trace-format.md (format 3) on its own, not through the reader under test.
import * as zlib from 'node:zlib';

export const PREAMBLE = 10;
export const HEADER = 18;

export interface Chunk {
  type: number;
  codec: number;
  seq: number;
  rawLength: number;
  stored: Buffer;
}

export function chunksOf(file: Buffer): Chunk[] {
  const chunks: Chunk[] = [];
  let pos = PREAMBLE;
  while (pos + HEADER <= file.length) {
    const storedLength = file.readUInt32LE(pos + 10);
    chunks.push({
      type: file.readUInt8(pos),
      codec: file.readUInt8(pos + 1),
      seq: file.readUInt32LE(pos + 2),
      rawLength: file.readUInt32LE(pos + 6),
      stored: file.subarray(pos + HEADER, pos + HEADER + storedLength),
    });
    pos += HEADER + storedLength;
  }
  return chunks;
}

/** Frames chunks back into a file with valid checksums (the damage is in what the chunks say, not in their CRC). */
export function fileOf(preamble: Buffer, chunks: Chunk[]): Buffer {
  const parts: Buffer[] = [preamble.subarray(0, PREAMBLE)];
  for (const c of chunks) {
    const h = Buffer.alloc(HEADER);
    h.writeUInt8(c.type, 0);
    h.writeUInt8(c.codec, 1);
    h.writeUInt32LE(c.seq >>> 0, 2);
    h.writeUInt32LE(c.rawLength >>> 0, 6);
    h.writeUInt32LE(c.stored.length, 10);
    h.writeUInt32LE(zlib.crc32(c.stored) >>> 0, 14);
    parts.push(h, c.stored);
  }
  return Buffer.concat(parts);
}

/** A chunk's raw bytes (for an unencrypted chunk). */
export function rawOf(c: Chunk): Buffer {
  return c.codec & 1 ? zlib.inflateRawSync(c.stored) : Buffer.from(c.stored);
}

/** The same chunk holding other raw bytes, stored uncompressed. */
export function withRaw(c: Chunk, raw: Buffer): Chunk {
  return { ...c, codec: c.codec & ~1, rawLength: raw.length, stored: raw };
}
