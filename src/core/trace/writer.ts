import * as zlib from 'node:zlib';
import { real } from '../originals.js';
import { ByteWriter, writeValue } from './codec.js';
import {
  CHUNK_HEADER_SIZE, ChunkCodec, ChunkType, EngineChannel, FORMAT_VERSION, MAGIC, Shape,
  type ModuleHash, type TraceEnd, type TraceHeader,
} from './format.js';

/**
 * A stage that sees each chunk's raw bytes before they are framed and written: the place where
 * encryption of recordings plugs in. Value-level redaction belongs in `ValueFilter`, before encoding.
 */
export interface ChunkTransform {
  /** The codec flag this transform sets in the chunk header. */
  readonly flag: number;
  encode(raw: Buffer): Buffer;
}

/** Sees every value before it is encoded; returns what to store instead (redaction). */
export type ValueFilter = (channel: string, value: unknown) => unknown;

export interface TraceWriterOptions {
  /** Flush a chunk when this many event bytes are buffered. */
  chunkBytes?: number;
  /** Deflate level; 0 stores chunks uncompressed. */
  compressionLevel?: number;
  transforms?: ChunkTransform[];
  valueFilter?: ValueFilter;
}

const crc32: (data: Uint8Array) => number = (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32;

/**
 * Appends events to a trace file. Events are encoded into one reusable buffer; full chunks are
 * compressed and written with one synchronous write, so a crash loses at most the current chunk.
 * The file descriptor is only ever appended to.
 */
export class TraceWriter {
  readonly events = new ByteWriter(1 << 17);
  eventCount = 0;
  private channelNames: string[] = [];
  private readonly modules: ModuleHash[] = [];
  private closed = false;
  private readonly chunkBytes: number;
  private readonly level: number;
  private readonly transforms: ChunkTransform[];
  readonly valueFilter: ValueFilter | undefined;

  constructor(private readonly fd: number, header: TraceHeader, options: TraceWriterOptions = {}) {
    this.chunkBytes = options.chunkBytes ?? 1 << 16;
    this.level = options.compressionLevel ?? 3;
    this.transforms = options.transforms ?? [];
    this.valueFilter = options.valueFilter;
    const preamble = Buffer.alloc(MAGIC.length + 2);
    MAGIC.copy(preamble);
    preamble.writeUInt16LE(FORMAT_VERSION, MAGIC.length);
    real.writeSync(fd, preamble);
    this.writeJsonChunk(ChunkType.Header, header);
  }

  defineChannel(id: number, name: string, shape: Shape): void {
    this.channelNames[id] = name;
    const w = this.events;
    w.varint(EngineChannel.Define);
    w.varint(id);
    w.string(name);
    w.u8(shape);
  }

  private value(channel: number, v: unknown): void {
    if (this.valueFilter) v = this.valueFilter(this.channelNames[channel] ?? '', v);
    writeValue(this.events, v);
  }

  /** Value-shaped event holding a float (Date.now, Math.random): no allocation. */
  writeFloatEvent(channel: number, v: number): void {
    const w = this.events;
    w.varint(channel);
    if (this.valueFilter) {
      writeValue(w, this.valueFilter(this.channelNames[channel] ?? '', v));
    } else {
      w.u8(5 /* Tag.Float */);
      w.f64(v);
    }
    this.eventCount++;
    if (w.pos >= this.chunkBytes) this.flush();
  }

  writeValueEvent(channel: number, v: unknown): void {
    this.events.varint(channel);
    this.value(channel, v);
    this.endEvent();
  }

  writeCallEvent(channel: number, args: unknown, threw: boolean, result: unknown): void {
    this.events.varint(channel);
    this.value(channel, args);
    this.events.u8(threw ? 1 : 0);
    this.value(channel, result);
    this.endEvent();
  }

  writeRequestEvent(channel: number, reqId: number, args: unknown): void {
    this.events.varint(channel);
    this.events.varint(reqId);
    this.value(channel, args);
    this.endEvent();
  }

  writeDeliverEvent(reqId: number, payload: unknown): void {
    this.events.varint(EngineChannel.Deliver);
    this.events.varint(reqId);
    this.value(EngineChannel.Deliver, payload);
    this.endEvent();
  }

  private endEvent(): void {
    this.eventCount++;
    if (this.events.pos >= this.chunkBytes) this.flush();
  }

  /** Writes buffered events as one chunk. Safe to call at any time, including from an exit handler. */
  flush(): void {
    if (this.closed) return;
    if (this.modules.length > 0) this.writeJsonChunk(ChunkType.Modules, this.modules.splice(0));
    if (this.events.pos === 0) return;
    const raw = this.events.buf.subarray(0, this.events.pos);
    this.writeChunk(ChunkType.Events, raw);
    this.events.pos = 0;
  }

  /** Module hashes go out with the next flush, before the events that follow their loading. */
  addModule(hash: ModuleHash): void {
    this.modules.push(hash);
  }

  close(end: TraceEnd): void {
    if (this.closed) return;
    this.flush();
    this.writeJsonChunk(ChunkType.End, end);
    this.closed = true;
    try {
      real.closeSync(this.fd);
    } catch {
      // already closed by the program: nothing more to write anyway
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private writeJsonChunk(type: ChunkType, value: unknown): void {
    this.writeChunk(type, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  private writeChunk(type: ChunkType, raw: Buffer): void {
    let stored: Buffer = raw;
    let codec = ChunkCodec.None as number;
    if (this.level > 0 && raw.length > 64) {
      stored = real.deflateRawSync(raw, { level: this.level });
      codec |= ChunkCodec.Deflate;
    }
    for (const t of this.transforms) {
      stored = t.encode(stored);
      codec |= t.flag;
    }
    const head = Buffer.allocUnsafe(CHUNK_HEADER_SIZE);
    head.writeUInt8(type, 0);
    head.writeUInt8(codec, 1);
    head.writeUInt32LE(raw.length, 2);
    head.writeUInt32LE(stored.length, 6);
    head.writeUInt32LE(crc32(stored) >>> 0, 10);
    // One write per chunk so a kill leaves either the whole chunk or a detectable partial one.
    writeFully(this.fd, Buffer.concat([head, stored]));
  }
}

function writeFully(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += real.writeSync(fd, data, off, data.length - off);
}
