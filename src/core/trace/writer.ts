import { real } from '../originals.js';
import { SyncSink, WorkerSink, type ChunkSink } from './chunk-sink.js';
import { truncateToWholeChunks, type ChunkTransform } from './chunks.js';
import { ChunkSealer } from './crypto.js';
import { ByteWriter, writeValue } from './codec.js';
import { ChunkType, EngineChannel, FORMAT_VERSION, MAGIC, Shape, type ModuleHash, type TraceEnd, type TraceHeader, type TraceKey } from './format.js';

export type { ChunkTransform } from './chunks.js';

/** Clock records closer together than this are left out (microseconds). */
const CLOCK_RESOLUTION_US = 50;
/** Outside deliveries, the clock is checked every this many events. */
const CLOCK_EVERY = 64;

/** Sees every value before it is encoded; returns what to store instead (redaction). */
export type ValueFilter = (channel: string, value: unknown) => unknown;

export interface TraceWriterOptions {
  /** Flush a chunk when this many event bytes are buffered. */
  chunkBytes?: number;
  /** Deflate level; 0 stores chunks uncompressed. */
  compressionLevel?: number;
  /** Applied to each chunk after compression; their presence keeps writing on this thread. */
  transforms?: ChunkTransform[];
  /** Seal every chunk after the key chunk with this chunk key (encryption, crypto.ts), on whichever thread writes. */
  sealKey?: Buffer;
  valueFilter?: ValueFilter;
  /**
   * After this many event chunks, compression and writing move to a worker thread. Short programs
   * never start one; long ones stop paying for compression on their own thread. Infinity: never.
   */
  workerAfterChunks?: number;
  /** An encrypted recording's key chunk, written first and in the clear (docs/security.md). */
  key?: TraceKey;
  /** Stop recording before the file grows past this many bytes (--max-size). */
  maxBytes?: number;
  /** Told once, with the reason, when recording stops early (a write error or a cap). */
  onStop?: (reason: string) => void;
}

/**
 * Appends events to a trace file. Events are encoded into one reusable buffer; full chunks are
 * compressed and written with one write each (by a worker thread once the trace grows), so a crash
 * loses at most the chunks not yet written. The file descriptor is only ever appended to.
 */
export class TraceWriter {
  readonly events = new ByteWriter(1 << 17);
  eventCount = 0;
  private channelNames: string[] = [];
  private readonly modules: ModuleHash[] = [];
  private closed = false;
  private readonly chunkBytes: number;
  private readonly level: number;
  private readonly syncSink: SyncSink;
  private sink: ChunkSink;
  private eventChunks = 0;
  private readonly workerAfterChunks: number;
  private readonly sealKey: Buffer | undefined;
  readonly valueFilter: ValueFilter | undefined;
  /** The monotonic clock when the recording started; clock records count microseconds from it. */
  private readonly clockOrigin = real.monotonicNow();
  /** The next chunk's sequence number. */
  private seq = 0;
  private readonly maxBytes: number;
  private readonly onStop: ((reason: string) => void) | undefined;
  /** Why recording stopped early, once it did: nothing more is written. */
  stopped: string | null = null;
  private lastClock = -CLOCK_RESOLUTION_US;
  /** Events until the next clock check outside deliveries. */
  private clockCountdown = 0;

  constructor(private readonly fd: number, header: TraceHeader, options: TraceWriterOptions = {}) {
    this.chunkBytes = options.chunkBytes ?? 1 << 16;
    this.level = options.compressionLevel ?? 3;
    this.valueFilter = options.valueFilter;
    this.sealKey = options.sealKey;
    const transforms = [...(options.transforms ?? []), ...(this.sealKey ? [new ChunkSealer(this.sealKey)] : [])];
    // Other transforms are functions of this thread; with any, everything stays here. Sealing is
    // done by the worker too (it is given the chunk key).
    this.workerAfterChunks = options.transforms?.length ? Infinity : (options.workerAfterChunks ?? 4);
    this.syncSink = new SyncSink(fd, this.level, transforms);
    this.sink = this.syncSink;
    this.maxBytes = options.maxBytes ?? Infinity;
    this.onStop = options.onStop;
    const preamble = Buffer.alloc(MAGIC.length + 2);
    MAGIC.copy(preamble);
    preamble.writeUInt16LE(FORMAT_VERSION, MAGIC.length);
    try {
      real.writeSync(fd, preamble);
      // The key chunk stays in the clear: a reader needs it to decrypt the rest.
      if (options.key) new SyncSink(fd, 0).write(ChunkType.Key, this.seq++, Buffer.from(JSON.stringify(options.key), 'utf8'));
    } catch (err) {
      this.fail(err);
      return;
    }
    this.writeJsonChunk(ChunkType.Header, header);
  }

  /**
   * Writes a clock record when time moved on since the last one. Called before every delivery (the
   * event loop entering JavaScript is when time passes), call and request, whose encoding costs far
   * more than one monotonic read; value events (Math.random, Date.now: the hot path) check it every
   * CLOCK_EVERY events, so a long synchronous run of them is dated too. No allocation.
   */
  private stamp(): void {
    this.clockCountdown = CLOCK_EVERY;
    const us = Math.round((real.monotonicNow() - this.clockOrigin) * 1000);
    if (us - this.lastClock < CLOCK_RESOLUTION_US) return;
    this.lastClock = us;
    this.events.varint(EngineChannel.Clock);
    this.events.varint(us);
  }

  defineChannel(id: number, name: string, shape: Shape): void {
    this.channelNames[id] = name;
    const w = this.events;
    w.varint(EngineChannel.Define);
    w.varint(id);
    w.string(name);
    w.u8(shape);
  }

  /** Told (by the recorder) about each event that could not be encoded, in its place. */
  onUnencodable: ((description: string) => void) | null = null;
  /** Events left out because a value in them could not be encoded. */
  unencodableCount = 0;

  private value(channel: number, v: unknown): void {
    if (this.valueFilter) v = this.valueFilter(this.channelNames[channel] ?? '', v);
    writeValue(this.events, v);
  }

  /**
   * An event could not be encoded (encoding threw): never a half-written event. It is taken back,
   * and the recorder writes in its place an event saying what went wrong, where replay stops.
   */
  private unencodable(start: number, channel: number, err: unknown): void {
    this.events.pos = start;
    let reason = 'unknown error';
    try {
      reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    } catch {
      // the thrown value cannot even be described
    }
    const what = channel === EngineChannel.Deliver ? 'a callback' : (this.channelNames[channel] ?? `channel ${channel}`);
    this.unencodableCount++;
    this.onUnencodable?.(`event ${this.eventCount} (${what}) could not be encoded: ${reason}`);
  }

  /** Value-shaped event holding a float (Date.now, Math.random): no allocation. */
  writeFloatEvent(channel: number, v: number): void {
    if (--this.clockCountdown <= 0) this.stamp();
    const w = this.events;
    if (channel < 0x80 && !this.valueFilter) {
      // The common case in one bounds check: a one-byte channel id, the float tag, 8 bytes.
      if (w.pos + 10 > w.buf.length) w.ensure(10);
      const at = w.pos;
      w.buf[at] = channel;
      w.buf[at + 1] = 5 /* Tag.Float */;
      w.view.setFloat64(at + 2, v, true);
      w.pos = at + 10;
    } else {
      w.varint(channel);
      if (this.valueFilter) {
        writeValue(w, this.valueFilter(this.channelNames[channel] ?? '', v));
      } else {
        w.u8(5 /* Tag.Float */);
        w.f64(v);
      }
    }
    this.eventCount++;
    if (w.pos >= this.chunkBytes) this.flush();
  }

  writeValueEvent(channel: number, v: unknown): void {
    if (--this.clockCountdown <= 0) this.stamp();
    const start = this.events.pos;
    try {
      this.events.varint(channel);
      this.value(channel, v);
    } catch (err) {
      return this.unencodable(start, channel, err);
    }
    this.endEvent();
  }

  writeCallEvent(channel: number, args: unknown, threw: boolean, result: unknown): void {
    this.stamp();
    const start = this.events.pos;
    try {
      this.events.varint(channel);
      this.value(channel, args);
      this.events.u8(threw ? 1 : 0);
      this.value(channel, result);
    } catch (err) {
      return this.unencodable(start, channel, err);
    }
    this.endEvent();
  }

  writeRequestEvent(channel: number, reqId: number, args: unknown): void {
    this.stamp();
    const start = this.events.pos;
    try {
      this.events.varint(channel);
      this.events.varint(reqId);
      this.value(channel, args);
    } catch (err) {
      return this.unencodable(start, channel, err);
    }
    this.endEvent();
  }

  writeDeliverEvent(reqId: number, payload: unknown): void {
    this.stamp();
    const start = this.events.pos;
    try {
      this.events.varint(EngineChannel.Deliver);
      this.events.varint(reqId);
      this.value(EngineChannel.Deliver, payload);
    } catch (err) {
      return this.unencodable(start, EngineChannel.Deliver, err);
    }
    this.endEvent();
  }

  private endEvent(): void {
    this.eventCount++;
    if (this.events.pos >= this.chunkBytes) this.flush();
  }

  /**
   * Writes buffered events as one chunk. Safe to call at any time, including from an exit handler.
   * Never throws: a write error stops the recording (see `fail`), not the program.
   */
  flush(): void {
    if (this.closed) return;
    if (this.stopped !== null) {
      this.events.pos = 0;
      this.modules.length = 0;
      return;
    }
    if (this.modules.length > 0) this.writeJsonChunk(ChunkType.Modules, this.modules.splice(0));
    if (this.events.pos === 0 || this.stopped !== null) return;
    if (this.maxBytes !== Infinity && this.wouldExceed(this.events.pos)) {
      this.stop(`the trace reached --max-size (${this.maxBytes} bytes)`);
      return;
    }
    if (++this.eventChunks === this.workerAfterChunks + 1) this.startWorker();
    try {
      this.sink.write(ChunkType.Events, this.seq++, this.events.buf.subarray(0, this.events.pos));
    } catch (err) {
      this.fail(err);
    }
    this.events.pos = 0;
  }

  /** Whether `bytes` more (before compression) could take the file past --max-size. */
  private wouldExceed(bytes: number): boolean {
    try {
      return real.fstatSync(this.fd).size + this.sink.pendingBytes() + bytes + 512 > this.maxBytes;
    } catch {
      return true;
    }
  }

  /** A write failed (disk full, read-only, I/O error): stop recording at the last whole chunk. */
  private fail(err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    const what = e.code === 'ENOSPC' ? 'the disk is full' : e.code === 'EROFS' ? 'the file system is read-only' : e.code === 'EDQUOT' ? 'the disk quota is used up' : `${e.code ?? 'error'}: ${e.message}`;
    this.stop(`the trace cannot be written (${what})`);
  }

  /**
   * Stops recording for good: the trace is cut back to its last whole chunk and closed with an end
   * chunk that says why (when the disk takes one more small chunk); the program runs on unrecorded.
   */
  stop(reason: string): void {
    if (this.stopped !== null || this.closed) return;
    this.stopped = reason;
    this.events.pos = 0;
    try {
      this.sink.drain();
    } catch {
      // the sink failed too: what is in the file is what there is
    }
    (this.sink as { stop?: () => void }).stop?.();
    this.sink = this.syncSink;
    try {
      // Chunks handed to the worker may not have made it: the end chunk follows the last whole one.
      this.seq = truncateToWholeChunks(this.fd, real);
      this.syncSink.write(ChunkType.End, this.seq++, Buffer.from(JSON.stringify({
        endTime: real.dateNow(), events: this.eventCount, exitCode: null, signal: null, reason: 'stopped', stopped: reason,
      } satisfies TraceEnd), 'utf8'));
    } catch {
      try {
        truncateToWholeChunks(this.fd, real);
      } catch {
        // nothing more can be done with this file
      }
    }
    this.closed = true;
    try {
      real.closeSync(this.fd);
    } catch {
      // already closed
    }
    this.onStop?.(reason);
  }

  /** Module hashes go out with the next flush, before the events that follow their loading. */
  addModule(hash: ModuleHash): void {
    this.modules.push(hash);
  }

  close(end: TraceEnd): void {
    if (this.closed) return;
    this.flush();
    if (this.closed) return;
    try {
      this.sink.drain();
    } catch (err) {
      this.fail(err);
      return;
    }
    this.sink = this.syncSink;
    this.writeJsonChunk(ChunkType.End, end);
    if (this.closed) return;
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

  private startWorker(): void {
    try {
      this.sink = new WorkerSink(this.fd, this.level, this.sealKey);
    } catch {
      // No worker (resource limits, a locked-down runtime): keep writing on this thread.
    }
  }

  private writeJsonChunk(type: ChunkType, value: unknown): void {
    if (this.stopped !== null) return;
    try {
      this.sink.write(type, this.seq++, Buffer.from(JSON.stringify(value), 'utf8'));
    } catch (err) {
      this.fail(err);
    }
  }
}
