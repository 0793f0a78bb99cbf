// Where framed chunks go: written on the program's thread, or handed to a worker thread.
import type { Worker } from 'node:worker_threads';
import { real } from '../originals.js';
import { frameChunk, writeFully, type ChunkTransform } from './chunks.js';
import type { ChunkType } from './format.js';

export interface ChunkSink {
  write(type: ChunkType, raw: Uint8Array): void;
  /** Returns once every chunk handed over so far is in the file. */
  drain(): void;
}

export class SyncSink implements ChunkSink {
  constructor(private readonly fd: number, private readonly level: number, private readonly transforms: readonly ChunkTransform[] = []) {}

  write(type: ChunkType, raw: Uint8Array): void {
    writeFully(this.fd, frameChunk(type, raw, this.level, real.deflateRawSync, this.transforms), real.writeSync);
  }

  drain(): void {}
}

/** How long the program's thread waits at exit for the worker before writing the rest itself. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Compression and writing on a worker thread. Each chunk is copied to the worker (the copy is a
 * fraction of the cost of compressing it) and kept until the worker acknowledges it, so if the
 * worker fails, the program's thread writes what it did not.
 */
export class WorkerSink implements ChunkSink {
  private readonly counter = new Int32Array(new SharedArrayBuffer(8));
  private readonly worker: Worker;
  private posted = 0;
  private readonly unacked: { type: ChunkType; raw: Uint8Array }[] = [];
  private readonly fallback: SyncSink;

  constructor(fd: number, level: number) {
    this.fallback = new SyncSink(fd, level);
    this.worker = new real.Worker(new URL('./chunk-worker.js', import.meta.url), {
      workerData: { fd, level, acked: this.counter.buffer },
      // The worker is ours: no preload, no inherited flags, no share of the program's stdio.
      execArgv: [],
      env: {},
      stdout: true,
      stderr: true,
    });
    this.worker.on('error', () => Atomics.store(this.counter, 1, 1));
    this.worker.unref();
  }

  private get failed(): boolean {
    return Atomics.load(this.counter, 1) === 1;
  }

  private forgetAcked(): void {
    const acked = Atomics.load(this.counter, 0);
    const done = acked - (this.posted - this.unacked.length);
    if (done > 0) this.unacked.splice(0, done);
  }

  write(type: ChunkType, raw: Uint8Array): void {
    if (this.failed) return this.writeRestSync(type, raw);
    const copy = new Uint8Array(raw);
    this.unacked.push({ type, raw: copy });
    this.posted++;
    this.worker.postMessage({ type, raw: copy });
    this.forgetAcked();
  }

  drain(): void {
    const deadline = real.dateNow() + DRAIN_TIMEOUT_MS;
    for (;;) {
      const acked = Atomics.load(this.counter, 0);
      if (acked >= this.posted) break;
      if (this.failed) return this.writeRestSync();
      const left = deadline - real.dateNow();
      if (left <= 0) return this.writeRestSync();
      Atomics.wait(this.counter, 0, acked, Math.min(left, 100));
    }
    this.unacked.length = 0;
  }

  /** The worker failed or stalled: write what it has not acknowledged, in order, on this thread. */
  private writeRestSync(type?: ChunkType, raw?: Uint8Array): void {
    this.forgetAcked();
    Atomics.store(this.counter, 1, 1);
    for (const c of this.unacked.splice(0)) this.fallback.write(c.type, c.raw);
    this.posted = Atomics.load(this.counter, 0);
    if (type !== undefined && raw) this.fallback.write(type, raw);
  }
}
