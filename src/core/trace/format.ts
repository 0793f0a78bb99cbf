// Constants of the trace file format. docs/trace-format.md is the prose version of this file;
// change both together, and bump FORMAT_VERSION on any incompatible change.

export const MAGIC = Buffer.from('RETRACE\n', 'latin1');
export const FORMAT_VERSION = 3;
/** The oldest format this version reads (format 1 has no clock records). */
export const OLDEST_READABLE_FORMAT = 1;
/** Bytes before the first chunk: MAGIC then u16 format version. */
export const PREAMBLE_SIZE = MAGIC.length + 2;

export const enum ChunkType {
  Header = 1, // JSON: TraceHeader
  Events = 2, // binary events
  Modules = 3, // JSON: ModuleHash[] loaded since the previous Modules chunk
  End = 4, // JSON: TraceEnd, written once when the process exits normally
  Key = 5, // format 3, encrypted recordings only: JSON TraceKey, the first chunk, never encrypted
}

/** The highest chunk type a reader of this format knows. */
export const LAST_CHUNK_TYPE = ChunkType.Key;

/** Chunk codec flags: how the stored bytes were transformed from the raw bytes (applied in this order). */
export const enum ChunkCodec {
  None = 0,
  Deflate = 1,
  /** Format 3: ChaCha20-Poly1305 under the recording key (docs/security.md). */
  Encrypted = 2,
}

/**
 * Format 3: type u8, codec u8, sequence number u32, raw length u32, stored length u32, crc32 of
 * stored bytes u32. Formats 1 and 2 have no sequence number (CHUNK_HEADER_SIZE_V2).
 */
export const CHUNK_HEADER_SIZE = 18;
export const CHUNK_HEADER_SIZE_V2 = 14;
/** The header bytes an encrypted chunk authenticates: type, codec, sequence number, raw length. */
export const CHUNK_AAD_SIZE = 10;

/** The chunk header's size in a file of this format version. */
export function chunkHeaderSize(version: number): number {
  return version >= 3 ? CHUNK_HEADER_SIZE : CHUNK_HEADER_SIZE_V2;
}

/** Channel shapes: how an event's payload is laid out after its channel id. */
export const enum Shape {
  /** One value: a reading of the outside world (Date.now, Math.random). */
  Value = 0,
  /** A synchronous call: args value, outcome u8 (0 returned, 1 threw), result value. */
  Call = 1,
  /** The start of an asynchronous operation: request id varint, args value. Its results come as Deliver events. */
  Request = 2,
}

/** Engine channels, present in every trace with fixed ids. */
export const enum EngineChannel {
  /** Defines a channel: id varint, name string, shape u8. Not counted as an event. */
  Define = 0,
  /** The event loop entered JavaScript for a request: request id varint, payload value. */
  Deliver = 1,
  /**
   * Format 2: a clock reading, not counted as an event: varint microseconds since the recording
   * started (monotonic). It dates the events after it, for `retrace show`; replay ignores it.
   */
  Clock = 2,
}

/** The first channel id of recorded channels (format 1 traces started at 2: they have no clock). */
export const FIRST_USER_CHANNEL = 3;

export interface TraceHeader {
  format: number;
  retraceVersion: string;
  nodeVersion: string;
  platform: string;
  arch: string;
  /** This process's number within the recording (0 is the first recorded process). */
  process: number;
  /** The recorded parent's process number, when the parent was recorded too. */
  parent: number | null;
  pid: number;
  ppid: number;
  argv: string[];
  execArgv: string[];
  execPath: string;
  cwd: string;
  startTime: number;
  timeZone: string;
  locale: string;
  /**
   * The redaction rules the recording was made with (the project's additions to the defaults;
   * docs/security.md); null when recorded with --no-redact. Absent in recordings made before
   * redaction existed: nothing in them is redacted.
   */
  redaction?: Record<string, string[]> | null;
}

export interface ModuleHash {
  url: string;
  sha256: string;
  /**
   * A file the process loaded that is not the program's own (node_modules, a JSON or .node file
   * loaded by require, a preloaded tool): listed so that `retrace pack` can take a copy. Absent in
   * recordings made before it was written.
   */
  dependency?: true;
}

export interface TraceEnd {
  endTime: number;
  events: number;
  exitCode: number | null;
  signal: string | null;
  /** 'stopped' (format 3): recording stopped early (a write error, --max-size, --max-duration); see `stopped`. */
  reason: 'exit' | 'signal' | 'stopped';
  /** Why recording stopped early, when `reason` is 'stopped'. */
  stopped?: string;
  /** Events left out because a value in them could not be encoded (absent: none). */
  unencodable?: number;
}

/**
 * The key chunk of an encrypted recording. `age` is an age file (base64) whose plaintext is the
 * 32-byte recording key, encrypted to the recipients; `salt` (base64, 16 bytes, one per trace
 * file) derives this file's chunk key from it.
 */
export interface TraceKey {
  age: string;
  salt: string;
}
