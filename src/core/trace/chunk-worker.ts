// The trace writer's worker thread: compresses and writes event chunks, so the program's thread
// only encodes events. It acknowledges each written chunk through a shared counter, which the
// program's thread waits on at exit so that nothing is lost.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { parentPort, workerData } from 'node:worker_threads';
import { frameChunk, writeFully } from './chunks.js';
import type { ChunkType } from './format.js';

interface Init {
  fd: number;
  level: number;
  acked: SharedArrayBuffer;
}

const { fd, level, acked } = workerData as Init;
const counter = new Int32Array(acked);

parentPort!.on('message', (msg: { type: ChunkType; raw: Uint8Array }) => {
  // Once the main thread has taken over (it timed out waiting), writing here would duplicate chunks.
  if (Atomics.load(counter, 1) === 1) return;
  try {
    writeFully(fd, frameChunk(msg.type, msg.raw, level, zlib.deflateRawSync), fs.writeSync);
    Atomics.add(counter, 0, 1);
  } catch (err) {
    // The main thread sees the failure flag and writes the remaining chunks itself.
    Atomics.store(counter, 1, 1);
    parentPort!.postMessage({ error: (err as Error).message });
  }
  Atomics.notify(counter, 0);
});
