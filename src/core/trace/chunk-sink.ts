// Where framed chunks go: written on the program's thread, or handed to a worker thread.
import type { Worker } from 'node:worker_threads';
import { real } from '../originals.js';
import { Ctl, frameChunk, SLOT_WORDS, truncateToWholeChunks, writeFully, type ChunkTransform } from './chunks.js';
import type { ChunkType } from './format.js';
import { ChunkSealer } from './crypto.js';

export interface ChunkSink {
  /**
   * Takes the chunk's bytes now: `raw` may be reused as soon as this returns. `seq` is the chunk's
   * sequence number in the file. Throws when the file cannot be written (the writer then stops).
   */
  write(type: ChunkType, seq: number, raw: Uint8Array): void;
  /** Returns once every chunk handed over so far is in the file. */
  drain(): void;
  /** Raw bytes handed over and not yet written (for --max-size). */
  pendingBytes(): number;
}

export class SyncSink implements ChunkSink {
  constructor(private readonly fd: number, private readonly level: number, private readonly transforms: readonly ChunkTransform[] = []) {}

  write(type: ChunkType, seq: number, raw: Uint8Array): void {
    writeFully(this.fd, frameChunk(type, seq, raw, this.level, real.deflateRawSync, this.transforms), real.writeSync);
  }

  drain(): void {}

  pendingBytes(): number {
    return 0;
  }
}

/** How long the program's thread waits for the worker (at exit, or for room in the ring) before writing the rest itself. */
const DRAIN_TIMEOUT_MS = 10_000;

/** The shared ring that carries event chunks to the worker: its bytes, and how many chunks may be in flight. */
const RING_BYTES = 8 << 20;
const RING_SLOTS = 256;


/**
 * Compression and writing on a worker thread, fed through a preallocated ring of shared memory: a
 * flush copies the chunk into the ring and bumps a counter; no message, no structured clone, no
 * allocation per chunk. A chunk stays in the ring until the worker acknowledges it, so if the worker
 * fails or stalls, the program's thread writes what it did not. When the ring is full the program's
 * thread waits for room (backpressure) rather than growing without bound. A chunk too large for the
 * ring waits for the worker to drain and is written here.
 */
export class WorkerSink implements ChunkSink {
  private readonly ring = new Uint8Array(new SharedArrayBuffer(RING_BYTES));
  private readonly ctl = new Int32Array(new SharedArrayBuffer(4 * (Ctl.SLOTS + SLOT_WORDS * RING_SLOTS)));
  private readonly worker: Worker;
  private readonly fallback: SyncSink;
  private published = 0;
  /** Where the next chunk goes in the ring. */
  private head = 0;
  /** Ring offsets of the chunks published and not yet acknowledged, oldest first (one number per chunk). */
  private readonly inFlight: number[] = [];
  private inFlightStart = 0;

  constructor(private readonly fd: number, level: number, sealKey?: Buffer) {
    this.fallback = new SyncSink(fd, level, sealKey ? [new ChunkSealer(sealKey)] : []);
    this.worker = new real.Worker(new URL('./chunk-worker.js', import.meta.url), {
      workerData: { fd, level, ring: this.ring.buffer, ctl: this.ctl.buffer, slots: RING_SLOTS, sealKey: sealKey ? new Uint8Array(sealKey) : null },
      // The worker is ours: no preload, no inherited flags, no share of the program's stdio.
      execArgv: [],
      env: {},
      stdout: true,
      stderr: true,
    });
    this.worker.on('error', () => this.fail());
    this.worker.unref();
  }

  private get failed(): boolean {
    return Atomics.load(this.ctl, Ctl.FAILED) === 1;
  }

  private fail(): void {
    Atomics.store(this.ctl, Ctl.FAILED, 1);
    Atomics.notify(this.ctl, Ctl.PUBLISHED);
  }

  /** Forgets the chunks the worker has written; returns how many are still in flight. */
  private settle(): number {
    const acked = Atomics.load(this.ctl, Ctl.ACKED);
    const done = acked - (this.published - (this.inFlight.length - this.inFlightStart));
    if (done > 0) this.inFlightStart += done;
    if (this.inFlightStart === this.inFlight.length) {
      this.inFlight.length = 0;
      this.inFlightStart = 0;
    } else if (this.inFlightStart > 1024) {
      this.inFlight.splice(0, this.inFlightStart);
      this.inFlightStart = 0;
    }
    return this.inFlight.length - this.inFlightStart;
  }

  /** A ring offset where `n` bytes fit without touching a chunk in flight, or -1. */
  private room(n: number): number {
    const pending = this.settle();
    if (pending >= RING_SLOTS) return -1;
    if (pending === 0) return 0;
    const tail = this.inFlight[this.inFlightStart]!;
    if (this.head > tail) {
      if (this.head + n <= RING_BYTES) return this.head;
      return n <= tail ? 0 : -1;
    }
    return this.head + n <= tail ? this.head : -1;
  }

  /** Waits until the worker acknowledges more chunks; false when it failed or stalled past `deadline`. */
  private waitForWorker(deadline: number): boolean {
    const acked = Atomics.load(this.ctl, Ctl.ACKED);
    if (this.failed) return false;
    const left = deadline - real.dateNow();
    if (left <= 0) return false;
    Atomics.wait(this.ctl, Ctl.ACKED, acked, Math.min(left, 100));
    return true;
  }

  write(type: ChunkType, seq: number, raw: Uint8Array): void {
    if (this.failed) return this.writeRestSync(type, seq, raw);
    const n = raw.length;
    if (n > RING_BYTES / 4) {
      // Rare (one event of megabytes): let the worker finish, then write it here, in order.
      this.drain();
      return this.failed ? this.writeRestSync(type, seq, raw) : this.fallback.write(type, seq, raw);
    }
    let at = this.room(n);
    if (at < 0) {
      const deadline = real.dateNow() + DRAIN_TIMEOUT_MS;
      while ((at = this.room(n)) < 0) if (!this.waitForWorker(deadline)) return this.writeRestSync(type, seq, raw);
    }
    this.ring.set(raw, at);
    this.head = at + n;
    this.inFlight.push(at);
    const slot = Ctl.SLOTS + SLOT_WORDS * (this.published % RING_SLOTS);
    this.ctl[slot] = type;
    this.ctl[slot + 1] = at;
    this.ctl[slot + 2] = n;
    this.ctl[slot + 3] = seq;
    this.published++;
    Atomics.store(this.ctl, Ctl.PUBLISHED, this.published);
    Atomics.notify(this.ctl, Ctl.PUBLISHED);
  }

  drain(): void {
    const deadline = real.dateNow() + DRAIN_TIMEOUT_MS;
    while (this.settle() > 0) if (!this.waitForWorker(deadline)) return this.writeRestSync();
  }

  pendingBytes(): number {
    let bytes = 0;
    for (let seq = Atomics.load(this.ctl, Ctl.ACKED); seq < this.published; seq++) bytes += this.ctl[Ctl.SLOTS + SLOT_WORDS * (seq % RING_SLOTS) + 2]!;
    return bytes;
  }

  /** Nothing more will be published: the worker may end once it has written everything. */
  stop(): void {
    Atomics.store(this.ctl, Ctl.STOP, 1);
    Atomics.notify(this.ctl, Ctl.PUBLISHED);
  }

  /** The worker failed or stalled: write what it has not acknowledged, in order, on this thread. */
  private writeRestSync(type?: ChunkType, seq?: number, raw?: Uint8Array): void {
    this.fail();
    // A worker that failed in the middle of a write left part of a chunk: the rest follows the last whole one.
    truncateToWholeChunks(this.fd, real);
    for (let n = Atomics.load(this.ctl, Ctl.ACKED); n < this.published; n++) {
      const slot = Ctl.SLOTS + SLOT_WORDS * (n % RING_SLOTS);
      const at = this.ctl[slot + 1]!;
      this.fallback.write(this.ctl[slot]! as ChunkType, this.ctl[slot + 3]!, this.ring.subarray(at, at + this.ctl[slot + 2]!));
      // Counted as each is written, so that a write error leaves the count at what is in the file.
      Atomics.store(this.ctl, Ctl.ACKED, n + 1);
    }
    this.inFlight.length = 0;
    this.inFlightStart = 0;
    Atomics.store(this.ctl, Ctl.ACKED, this.published);
    if (type !== undefined && seq !== undefined && raw) this.fallback.write(type, seq, raw);
  }
}
