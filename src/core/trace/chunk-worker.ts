// The trace writer's worker thread: compresses and writes the chunks the program's thread publishes
// in a shared ring (chunk-sink.ts), in order, and acknowledges each written chunk through a shared
// counter, which the program's thread waits on for room in the ring and at exit. It never runs an
// event loop turn: it blocks on the shared counter between chunks.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { workerData } from 'node:worker_threads';
import { Ctl, frameChunk, SLOT_WORDS, writeFully } from './chunks.js';
import { CHUNK_HEADER_SIZE, ChunkType } from './format.js';
import { ChunkSealer } from './crypto.js';

interface Init {
  fd: number;
  level: number;
  ring: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  slots: number;
  /** An encrypted recording's chunk key: every chunk is sealed here too. */
  sealKey: Uint8Array | null;
}

const { fd, level, ring: ringBuffer, ctl: ctlBuffer, slots, sealKey } = workerData as Init;
const transforms = sealKey ? [new ChunkSealer(Buffer.from(sealKey))] : [];
const ring = new Uint8Array(ringBuffer);
const ctl = new Int32Array(ctlBuffer);

/**
 * Deflate buys little on event chunks that are mostly random numbers or already-compressed bytes,
 * and costs the most on them (a chunk of Math.random results deflates to 80% at a tenth of the
 * speed of HTTP traffic, which deflates to 3%). After a chunk that deflate shrank by less than a
 * quarter, the next SKIP_AFTER_POOR event chunks are stored as they are (codec 0), then deflate is
 * tried again.
 */
const SKIP_AFTER_POOR = 16;
/**
 * Only a large chunk says how well the stream compresses: the small chunks of a quiet program
 * (flushed every 200 ms) deflate worse for lack of context, and cost little to deflate anyway.
 */
const JUDGED_BYTES = 32 << 10;
let skip = 0;

/**
 * Compression must never hold the program up: when this many chunks are waiting behind the one
 * being written (the program produces faster than deflate runs), chunks are stored as they are
 * until the worker has caught up. The ring stays free, and the program's thread never waits for
 * deflate; the trace is larger for the stretch that was stored raw.
 */
const BACKLOG_CHUNKS = 4;

function writeChunk(type: ChunkType, seq: number, raw: Uint8Array, backlog: number): void {
  const compress = level > 0 && backlog < BACKLOG_CHUNKS && !(type === ChunkType.Events && skip > 0);
  if (type === ChunkType.Events && skip > 0) skip--;
  const framed = frameChunk(type, seq, raw, compress ? level : 0, zlib.deflateRawSync, transforms);
  if (compress && type === ChunkType.Events && raw.length >= JUDGED_BYTES && framed.length - CHUNK_HEADER_SIZE > raw.length - (raw.length >> 2)) skip = SKIP_AFTER_POOR;
  writeFully(fd, framed, fs.writeSync);
}

let next = Atomics.load(ctl, Ctl.ACKED);
for (;;) {
  const published = Atomics.load(ctl, Ctl.PUBLISHED);
  // Once the program's thread has taken over (it timed out waiting), writing here would duplicate chunks.
  if (Atomics.load(ctl, Ctl.FAILED) === 1) break;
  if (next === published) {
    if (Atomics.load(ctl, Ctl.STOP) === 1) break;
    Atomics.wait(ctl, Ctl.PUBLISHED, published, 1000);
    continue;
  }
  const slot = Ctl.SLOTS + SLOT_WORDS * (next % slots);
  const at = ctl[slot + 1]!;
  try {
    writeChunk(ctl[slot]! as ChunkType, ctl[slot + 3]!, ring.subarray(at, at + ctl[slot + 2]!), published - next - 1);
  } catch {
    // The program's thread sees the flag and writes the remaining chunks itself.
    Atomics.store(ctl, Ctl.FAILED, 1);
    Atomics.notify(ctl, Ctl.ACKED);
    break;
  }
  next++;
  Atomics.store(ctl, Ctl.ACKED, next);
  Atomics.notify(ctl, Ctl.ACKED);
}
