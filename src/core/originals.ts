// The runtime's own handles on the outside world, captured before any boundary module patches it.
//
// ESM imports of built-ins are live bindings that follow `syncBuiltinESMExports()`, so the engine
// must never call `fs.writeSync` or `setImmediate` through an import after patching: it would
// record (or replay) its own I/O. Everything the engine itself needs is copied here at load time.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { Worker } from 'node:worker_threads';

export const real = Object.freeze({
  writeSync: fs.writeSync,
  openSync: fs.openSync,
  closeSync: fs.closeSync,
  readFileSync: fs.readFileSync,
  existsSync: fs.existsSync,
  mkdirSync: fs.mkdirSync,
  fchmodSync: fs.fchmodSync,
  fstatSync: fs.fstatSync,
  ftruncateSync: fs.ftruncateSync,
  readSync: fs.readSync,
  chmodSync: fs.chmodSync,
  readdirSync: fs.readdirSync,
  statSync: fs.statSync,
  realpathSync: fs.realpathSync,
  Worker,
  deflateRawSync: zlib.deflateRawSync,
  inflateRawSync: zlib.inflateRawSync,
  setImmediate: globalThis.setImmediate,
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  dateNow: Date.now,
  /** Monotonic milliseconds (performance.now), for the trace's clock records. */
  monotonicNow: performance.now.bind(performance),
  processExit: process.exit.bind(process),
  processKill: process.kill.bind(process),
  processEmit: process.emit.bind(process) as (event: string | symbol, ...args: unknown[]) => boolean,
  processCwd: process.cwd.bind(process),
  /** The real environment this process started with: in replay `process.env` is the recorded one. */
  env: Object.freeze({ ...process.env }) as Readonly<Record<string, string | undefined>>,
  /** This process's own pid: in replay `process.pid` answers the recorded one. */
  pid: process.pid,
  reallyExit: ((process as unknown as { reallyExit?: (code: number) => never }).reallyExit ?? process.exit).bind(process),
});
