import * as zlib from 'node:zlib';
import { real } from '../originals.js';
import { ByteReader, CorruptTraceError, readValue } from './codec.js';
import {
  CHUNK_AAD_SIZE, ChunkCodec, ChunkType, chunkHeaderSize, EngineChannel, FIRST_USER_CHANNEL, FORMAT_VERSION, LAST_CHUNK_TYPE, MAGIC,
  OLDEST_READABLE_FORMAT, PREAMBLE_SIZE, Shape, type ModuleHash, type TraceEnd, type TraceHeader, type TraceKey,
} from './format.js';
import { deriveChunkKey, openChunk, recordingKeyFor } from './crypto.js';

/** Channel ids above this are damage: a program defines a few hundred channels at most. */
const MAX_CHANNEL_ID = 1 << 20;

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
  /** The chunk's sequence number (format 3; its position in older formats). */
  seq: number;
  rawLength: number;
  stored: Buffer;
  /** Where the chunk starts in the file. */
  at: number;
  /** The header bytes an encrypted chunk authenticates. */
  aad: Buffer;
}

/** The largest chunk a reader accepts after decoding (a writer's chunk is far smaller, unless one event is this large). */
const MAX_RAW_CHUNK = 1 << 30;
/** Deflate expands at most about 1032:1: a chunk claiming more is damaged. */
const MAX_DEFLATE_RATIO = 1100;
const TAG_BYTES = 16;

export class TraceFile {
  readonly header: TraceHeader;
  /** The program's own modules, as loaded (their hashes tell replay when the code changed). */
  readonly modules: ModuleHash[] = [];
  /** The other files its module loader loaded: dependencies, JSON, native addons, preloaded tools. */
  readonly dependencies: ModuleHash[] = [];
  end: TraceEnd | null = null;
  /** Why the file stops early, when it does: a cut-off or damaged chunk, or recording stopped early. */
  truncation: string | null = null;
  /** Whether the recording is encrypted (it has a key chunk). */
  readonly encrypted: boolean;
  /** An encrypted recording's wrapped key (the key chunk's age file), to hand to a replayed process. */
  readonly keyAge: string | null;
  private readonly eventChunks: RawChunk[] = [];
  private readonly chunkKey: Buffer | null;

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
    let first = chunks[0];
    let keyInfo: TraceKey | null = null;
    if (first?.type === ChunkType.Key) {
      keyInfo = parseJson(first, 'key', isTraceKey) ;
      if (!keyInfo) throw new TraceError(`${path} has a damaged key chunk: it cannot be decrypted`);
      const recordingKey = recordingKeyFor(keyInfo);
      if (!recordingKey) throw new TraceError(`${path} is encrypted: give its private key with --identity FILE (or RETRACE_IDENTITY)`);
      this.chunkKey = deriveChunkKey(recordingKey, Buffer.from(keyInfo.salt, 'base64'));
      chunks = chunks.slice(1);
      first = chunks[0];
    } else {
      this.chunkKey = null;
    }
    this.encrypted = keyInfo !== null;
    this.keyAge = keyInfo?.age ?? null;
    if (!first || first.type !== ChunkType.Header) throw new TraceError(`${path} has no header: it is not a complete recording`);
    if (this.chunkKey && !(first.codec & ChunkCodec.Encrypted)) throw new TraceError(`${path} is damaged: its header is not encrypted like the rest`);
    let header: TraceHeader | null;
    try {
      header = parseJson(first, 'header', isTraceHeader, this.chunkKey);
    } catch (err) {
      if (this.chunkKey && err instanceof CorruptTraceError && /decrypt/.test(err.message)) {
        throw new TraceError(`${path} cannot be decrypted with the key given: it was encrypted to another recipient, or it is damaged`);
      }
      throw new TraceError(`${path} has a damaged header (${(err as Error).message})`);
    }
    if (!header) throw new TraceError(`${path} has a damaged header`);
    this.header = header;
    for (const c of chunks.slice(1)) {
      if (this.end) {
        this.truncation = `damaged: a chunk follows the end chunk at byte ${c.at}`;
        break;
      }
      if (this.chunkKey && !(c.codec & ChunkCodec.Encrypted)) {
        this.truncation = `damaged: the chunk at byte ${c.at} is not encrypted like the rest`;
        break;
      }
      if (c.type === ChunkType.Events) {
        this.eventChunks.push(c);
        continue;
      }
      try {
        if (c.type === ChunkType.Modules) {
          const mods = parseJson(c, 'modules', isModuleList, this.chunkKey);
          if (!mods) throw new CorruptTraceError('not a list of modules');
          for (const m of mods) (m.dependency ? this.dependencies : this.modules).push(m);
        } else if (c.type === ChunkType.End) {
          this.end = parseJson(c, 'end', isTraceEnd, this.chunkKey);
          if (!this.end) throw new CorruptTraceError('not an end record');
        } else {
          throw new CorruptTraceError(`a chunk of type ${c.type as number} does not belong here`);
        }
      } catch (err) {
        this.truncation = `damaged: the chunk at byte ${c.at} cannot be read (${(err as Error).message})`;
        this.end = null;
        break;
      }
    }
    if (this.end?.reason === 'stopped') this.truncation ??= `recording stopped early: ${this.end.stopped ?? 'no reason given'}`;
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
    const headerSize = chunkHeaderSize(version);
    const lastType = version >= 3 ? LAST_CHUNK_TYPE : ChunkType.End;
    const knownCodecs = version >= 3 ? ChunkCodec.Deflate | ChunkCodec.Encrypted : ChunkCodec.Deflate;
    const chunks: RawChunk[] = [];
    let pos = PREAMBLE_SIZE;
    let truncation: string | null = null;
    while (pos < data.length) {
      if (pos + headerSize > data.length) {
        truncation = `the last chunk is cut off at byte ${pos}`;
        break;
      }
      const type = data.readUInt8(pos) as ChunkType;
      const codec = data.readUInt8(pos + 1);
      const v3 = version >= 3;
      const seq = v3 ? data.readUInt32LE(pos + 2) : chunks.length;
      const rawLength = data.readUInt32LE(pos + (v3 ? 6 : 2));
      const storedLength = data.readUInt32LE(pos + (v3 ? 10 : 6));
      const crc = data.readUInt32LE(pos + (v3 ? 14 : 10));
      const start = pos + headerSize;
      if (start + storedLength > data.length) {
        truncation = `the last chunk is cut off at byte ${pos}`;
        break;
      }
      const stored = data.subarray(start, start + storedLength);
      if ((crc32(stored) >>> 0) !== crc) {
        truncation = `the chunk at byte ${pos} is damaged (checksum mismatch)`;
        break;
      }
      const problem = chunkProblem(type, codec, rawLength, storedLength, lastType, knownCodecs, chunks.length);
      if (problem) {
        truncation = `the chunk at byte ${pos} is damaged (${problem})`;
        break;
      }
      if (seq !== chunks.length) {
        truncation =
          seq < chunks.length
            ? `damaged: the chunk at byte ${pos} is repeated or out of order (chunk ${seq} where chunk ${chunks.length} belongs)`
            : `damaged: ${seq - chunks.length === 1 ? 'a chunk is' : `${seq - chunks.length} chunks are`} missing or out of order before byte ${pos} (chunk ${seq} where chunk ${chunks.length} belongs)`;
        break;
      }
      chunks.push({ type, codec, seq, rawLength, stored, at: pos, aad: data.subarray(pos, pos + CHUNK_AAD_SIZE) });
      pos = start + storedLength;
    }
    return new TraceFile(path, data.length, version, chunks, truncation);
  }

  /** Iterates decoded events in order. Throws CorruptTraceError if an event cannot be decoded. */
  *events(): Generator<TraceEvent> {
    const channels = new Map<number, ChannelDef>();
    const clock = this.hasClock;
    const firstChannel = clock ? FIRST_USER_CHANNEL : FIRST_USER_CHANNEL - 1;
    let index = 0;
    let time = 0;
    for (const chunk of this.eventChunks) {
      const raw = decodeChunk(chunk, this.chunkKey);
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
          if (id < firstChannel || id > MAX_CHANNEL_ID) throw new CorruptTraceError(`a channel is defined with id ${id}, out of range`);
          if (channels.has(id)) throw new CorruptTraceError(`channel ${id} is defined twice`);
          if (shape !== Shape.Value && shape !== Shape.Call && shape !== Shape.Request) throw new CorruptTraceError(`channel ${name} has unknown shape ${shape as number}`);
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
    // A complete recording says how many events it holds: fewer or more is damage the chunks did not show.
    if (this.end && this.end.reason !== 'stopped' && !this.truncation && this.end.events !== index) {
      throw new CorruptTraceError(`the end chunk counts ${this.end.events} events, the trace holds ${index}`);
    }
  }
}

/** What is wrong with a chunk's header fields, if anything. */
function chunkProblem(type: number, codec: number, rawLength: number, storedLength: number, lastType: number, knownCodecs: number, index: number): string | null {
  if (type < ChunkType.Header || type > lastType) return `unknown chunk type ${type}`;
  if (codec & ~knownCodecs) return `unknown codec ${codec}`;
  if (type === ChunkType.Key && (index !== 0 || codec !== 0)) return 'a key chunk that is not the first chunk';
  if (rawLength > MAX_RAW_CHUNK) return `a chunk of ${rawLength} bytes`;
  const sealed = codec & ChunkCodec.Encrypted ? storedLength - TAG_BYTES : storedLength;
  if (sealed < 0) return 'an encrypted chunk too short to hold its tag';
  if (codec & ChunkCodec.Deflate ? rawLength > sealed * MAX_DEFLATE_RATIO + 1024 : rawLength !== sealed) return 'its lengths do not agree';
  return null;
}

/** A JSON chunk's value, or null when it is not of the expected shape; throws CorruptTraceError when it does not decode. */
function parseJson<T>(chunk: RawChunk, what: string, check: (v: unknown) => v is T, key: Buffer | null = null): T | null {
  const text = decodeChunk(chunk, key).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CorruptTraceError(`the ${what} is not valid JSON`);
  }
  return check(value) ? value : null;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isTraceHeader(v: unknown): v is TraceHeader {
  return (
    isObject(v) && isNumber(v.format) && isString(v.retraceVersion) && isString(v.nodeVersion) && isString(v.platform) && isString(v.arch) &&
    isNumber(v.process) && (v.parent === null || isNumber(v.parent)) && isNumber(v.pid) && isNumber(v.ppid) && isStringArray(v.argv) &&
    isStringArray(v.execArgv) && isString(v.execPath) && isString(v.cwd) && isNumber(v.startTime) && isString(v.timeZone) && isString(v.locale)
  );
}

function isTraceEnd(v: unknown): v is TraceEnd {
  return (
    isObject(v) && isNumber(v.endTime) && isNumber(v.events) && (v.exitCode === null || isNumber(v.exitCode)) &&
    (v.signal === null || isString(v.signal)) && (v.reason === 'exit' || v.reason === 'signal' || v.reason === 'stopped') &&
    (v.stopped === undefined || isString(v.stopped))
  );
}

function isModuleList(v: unknown): v is ModuleHash[] {
  return Array.isArray(v) && v.every((m) => isObject(m) && isString(m.url) && isString(m.sha256));
}

function isTraceKey(v: unknown): v is TraceKey {
  return isObject(v) && isString(v.age) && isString(v.salt);
}

function decodeChunk(chunk: RawChunk, key: Buffer | null): Buffer {
  let data = chunk.stored;
  if (chunk.codec & ChunkCodec.Encrypted) {
    if (!key) throw new CorruptTraceError('an encrypted chunk in a recording without a key chunk');
    const opened = openChunk(key, data, chunk.seq, chunk.aad);
    if (!opened) throw new CorruptTraceError(`the chunk at byte ${chunk.at} does not decrypt`);
    data = opened;
  }
  if (chunk.codec & ChunkCodec.Deflate) {
    try {
      // Never more than the chunk says it holds: a damaged length cannot make the reader grow without bound.
      data = real.inflateRawSync(data, { maxOutputLength: Math.max(1, chunk.rawLength) }) as Buffer;
    } catch {
      throw new CorruptTraceError(`the chunk at byte ${chunk.at} does not decompress`);
    }
  }
  if (data.length !== chunk.rawLength) throw new CorruptTraceError('a chunk has the wrong length after decompression');
  return data;
}
