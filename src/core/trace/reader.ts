import * as zlib from 'node:zlib';
import { real } from '../originals.js';
import { ByteReader, CorruptTraceError, readValue } from './codec.js';
import {
  CHUNK_HEADER_SIZE, ChunkCodec, ChunkType, EngineChannel, FORMAT_VERSION, MAGIC, OLDEST_READABLE_FORMAT, PREAMBLE_SIZE, Shape,
  type ModuleHash, type TraceEnd, type TraceHeader,
} from './format.js';

const crc32: (data: Uint8Array) => number = (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32;

/** A problem with a recording file that the user must be told about in one line. */
export class TraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceError';
  }
}

export interface ChannelDef {
  id: number;
  name: string;
  shape: Shape;
}

/**
 * One decoded event. `index` is its event number, counted from 0 over the whole trace. `time` is
 * the last clock reading before it, in milliseconds since the recording started (0 in format 1
 * traces, which have no clock records: see `TraceFile.hasClock`).
 */
export type TraceEvent =
  | { index: number; time: number; kind: 'value'; channel: ChannelDef; value: unknown }
  | { index: number; time: number; kind: 'call'; channel: ChannelDef; args: unknown; threw: boolean; result: unknown }
  | { index: number; time: number; kind: 'request'; channel: ChannelDef; reqId: number; args: unknown }
  | { index: number; time: number; kind: 'deliver'; reqId: number; payload: unknown };

interface RawChunk {
  type: ChunkType;
  codec: number;
  rawLength: number;
  stored: Buffer;
}

export class TraceFile {
  readonly header: TraceHeader;
  /** The program's own modules, as loaded (their hashes tell replay when the code changed). */
  readonly modules: ModuleHash[] = [];
  /** The other files its module loader loaded: dependencies, JSON, native addons, preloaded tools. */
  readonly dependencies: ModuleHash[] = [];
  end: TraceEnd | null = null;
  /** Why the file stops early, when it does: a cut-off or damaged chunk. */
  truncation: string | null = null;
  private readonly eventChunks: RawChunk[] = [];

  /** Whether events carry clock readings (format 2 and later). */
  get hasClock(): boolean {
    return this.version >= 2;
  }

  /** How many event chunks the file holds (each decodes independently: `events(fromChunk)`). */
  get eventChunkCount(): number {
    return this.eventChunks.length;
  }

  private constructor(readonly path: string, readonly size: number, readonly version: number, chunks: RawChunk[], truncation: string | null) {
    this.truncation = truncation;
    const first = chunks[0];
    if (!first || first.type !== ChunkType.Header) throw new TraceError(`${path} has no header: it is not a complete recording`);
    this.header = JSON.parse(decodeChunk(first).toString('utf8')) as TraceHeader;
    for (const c of chunks.slice(1)) {
      if (c.type === ChunkType.Events) this.eventChunks.push(c);
      else if (c.type === ChunkType.Modules) {
        for (const m of JSON.parse(decodeChunk(c).toString('utf8')) as ModuleHash[]) (m.dependency ? this.dependencies : this.modules).push(m);
      }
      else if (c.type === ChunkType.End) this.end = JSON.parse(decodeChunk(c).toString('utf8')) as TraceEnd;
    }
    if (!this.end && !this.truncation) this.truncation = 'the process stopped before the recording was closed';
  }

  static open(path: string): TraceFile {
    let data: Buffer;
    try {
      data = real.readFileSync(path) as Buffer;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new TraceError(`no recording at ${path}`);
      if (code === 'EISDIR') throw new TraceError(`${path} is a folder, not a trace file`);
      throw new TraceError(`cannot read ${path}: ${(err as Error).message}`);
    }
    if (data.length === 0) throw new TraceError(`${path} is empty: the process was stopped before it wrote anything`);
    if (data.length < PREAMBLE_SIZE || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new TraceError(`${path} is not a retrace recording`);
    }
    const version = data.readUInt16LE(MAGIC.length);
    if (version > FORMAT_VERSION) {
      throw new TraceError(`${path} uses trace format ${version}; this retrace-node reads up to format ${FORMAT_VERSION}: upgrade retrace-node`);
    }
    if (version < OLDEST_READABLE_FORMAT) throw new TraceError(`${path} uses trace format ${version}, which this retrace-node no longer reads`);
    const chunks: RawChunk[] = [];
    let pos = PREAMBLE_SIZE;
    let truncation: string | null = null;
    while (pos < data.length) {
      if (pos + CHUNK_HEADER_SIZE > data.length) {
        truncation = `the last chunk is cut off at byte ${pos}`;
        break;
      }
      const type = data.readUInt8(pos) as ChunkType;
      const codec = data.readUInt8(pos + 1);
      const rawLength = data.readUInt32LE(pos + 2);
      const storedLength = data.readUInt32LE(pos + 6);
      const crc = data.readUInt32LE(pos + 10);
      const start = pos + CHUNK_HEADER_SIZE;
      if (start + storedLength > data.length) {
        truncation = `the last chunk is cut off at byte ${pos}`;
        break;
      }
      const stored = data.subarray(start, start + storedLength);
      if ((crc32(stored) >>> 0) !== crc || type < ChunkType.Header || type > ChunkType.End) {
        truncation = `the chunk at byte ${pos} is damaged (checksum mismatch)`;
        break;
      }
      chunks.push({ type, codec, rawLength, stored });
      pos = start + storedLength;
    }
    return new TraceFile(path, data.length, version, chunks, truncation);
  }

  /** Iterates decoded events in order. Throws CorruptTraceError if an event cannot be decoded. */
  *events(): Generator<TraceEvent> {
    const channels = new Map<number, ChannelDef>();
    const clock = this.hasClock;
    let index = 0;
    let time = 0;
    for (const chunk of this.eventChunks) {
      const raw = decodeChunk(chunk);
      const r = new ByteReader(raw);
      while (!r.done) {
        const ch = r.varint();
        if (clock && ch === EngineChannel.Clock) {
          time = r.varint() / 1000;
          continue;
        }
        if (ch === EngineChannel.Define) {
          const id = r.varint();
          const name = r.string();
          const shape = r.u8() as Shape;
          channels.set(id, { id, name, shape });
          continue;
        }
        if (ch === EngineChannel.Deliver) {
          const reqId = r.varint();
          yield { index: index++, time, kind: 'deliver', reqId, payload: readValue(r) };
          continue;
        }
        const channel = channels.get(ch);
        if (!channel) throw new CorruptTraceError(`event ${index} uses undefined channel ${ch}`);
        switch (channel.shape) {
          case Shape.Value:
            yield { index: index++, time, kind: 'value', channel, value: readValue(r) };
            break;
          case Shape.Call: {
            const args = readValue(r);
            const threw = r.u8() === 1;
            yield { index: index++, time, kind: 'call', channel, args, threw, result: readValue(r) };
            break;
          }
          case Shape.Request: {
            const reqId = r.varint();
            yield { index: index++, time, kind: 'request', channel, reqId, args: readValue(r) };
            break;
          }
          default:
            throw new CorruptTraceError(`channel ${channel.name} has unknown shape ${channel.shape as number}`);
        }
      }
    }
  }
}

function decodeChunk(chunk: RawChunk): Buffer {
  let data = chunk.stored;
  if (chunk.codec & ~ChunkCodec.Deflate) {
    throw new TraceError('this recording is encrypted or uses a codec this retrace-node does not know');
  }
  if (chunk.codec & ChunkCodec.Deflate) {
    try {
      data = real.inflateRawSync(data) as Buffer;
    } catch {
      throw new CorruptTraceError('a chunk does not decompress');
    }
  }
  if (data.length !== chunk.rawLength) throw new CorruptTraceError('a chunk has the wrong length after decompression');
  return data;
}
