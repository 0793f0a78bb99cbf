// child_process: the processes the program starts. spawn, exec, execFile and fork (asynchronous),
// spawnSync, execSync and execFileSync (synchronous).
//
// Where the calls really go (lib/child_process.js, lib/internal/child_process.js): every
// asynchronous API builds a ChildProcess and calls ChildProcess.prototype.spawn, which normalizes
// stdio, creates the pipes, and calls `spawn` on the ChildProcess's native Process handle; execFile
// and fork reach it through the module's own `spawn`, not the exports object, so the exports are
// not the place to patch. Every synchronous API ends in the `spawn` of the spawn_sync binding, which
// Node's internal spawnSync looks up on the binding object at each call. Both are patched there, so
// Node's own JavaScript (option handling, exec's output collection and error building, the IPC
// channel, stdio sockets) runs unchanged in both modes on top of them.
//
// Record observes and passes through: the real child runs. The spawn request (file, argv, cwd, the
// environment variables that differ from the parent's, stdio shape), the outcome of starting it
// (libuv error code and pid), each stdio pipe (as a socket of the socket layer, net.ts: bytes in
// their chunking, end, close, writes to stdin and their completions), the process's exit (code and
// signal, from the handle's onexit), kill() reaching the handle, and IPC: the bytes read from the
// channel, each message written and when a write completed. Synchronous spawns are calls whose
// result is Node's raw result (status, signal, output bytes, error code).
//
// A Node.js child is recorded as its own process: the recording's environment (RETRACE_* and the
// preload in NODE_OPTIONS) is put into the child's environment even when the program passes an
// `env` without them, with RETRACE_PARENT naming this process. The child claims its process number
// itself when it starts, after spawn has returned (and a shell in between may start several Node
// processes, or none), so the parent's trace holds the child's pid, and `retrace info` links the
// two by pid (a child whose parent was a shell started by this process has that shell's pid as ppid).
//
// Replay starts no process. The ChildProcess gets a stand-in for its native handle that answers
// spawn and kill from the recording and calls Node's own onexit at the recorded exit; its stdio
// sockets are the socket layer's handle-less stand-ins; the IPC channel's handle answers writes from
// the recording and is fed the recorded bytes, so Node's own message parsing, buffering and
// 'disconnect' logic produce the events. A different command, environment change or stdio shape, a
// different message or different bytes written to stdin stop the replay with the program's line.
import * as path from 'node:path';
import type { Boundary, SessionContext } from './boundary.js';
import { redaction } from '../redaction/index.js';
import type { Engine } from '../core/engine.js';
import { describeValue } from '../core/describe.js';
import { real } from '../core/originals.js';
import { encodeValue } from '../core/trace/codec.js';
import { Shape } from '../core/trace/format.js';
import type { TraceEvent } from '../core/trace/reader.js';
import { TraceFile } from '../core/trace/reader.js';
import { TRACE_FILE_PATTERN, ENV } from '../runtime/paths.js';
import { withPreload } from '../runtime/session.js';
import { expectOwn, forgetOwn, makeStandIn, mark, newState, socketDelivery, tapHandle } from './net.js';
import { builtin } from './wrap.js';
import {
  ChildDelivery, commandLine, KILL_CHANNEL, SEND_CHANNEL, SPAWN_CHANNEL, SPAWN_SYNC_CHANNEL, STARTED_CHANNEL, STDIO_CHANNEL,
  type SpawnKey,
} from './child-process-events.js';

type AnyFn = (this: any, ...args: any[]) => any;

const binding = (name: string): any => (process as unknown as { binding(name: string): any }).binding(name);
// The same binding objects Node's own code uses (process.binding allows these without a warning).
const streamWrap = binding('stream_wrap');
const streamBaseState: Int32Array = streamWrap.streamBaseState;
const kReadBytesOrError: number = streamWrap.kReadBytesOrError;
const kArrayBufferOffset: number = streamWrap.kArrayBufferOffset;
const kLastWriteWasAsync: number = streamWrap.kLastWriteWasAsync;

/** What the boundary knows about one asynchronous child. */
interface ChildState {
  id: number;
  child: any;
  key: SpawnKey | null;
  pid: number | undefined;
  /** Starting failed: Node reports it from a nextTick (or throws); no exit comes from the event loop. */
  failed: boolean;
  exited: boolean;
  ipcOpen: boolean;
  /** Replay: the IPC channel's handle, and its writes that complete later, in order. */
  ipc: any;
  ipcWrites: any[];
}

let engine: Engine;
/** The engine while replaying (null while recording): what the recording holds next. */
let replayer: Engine | null = null;
let session: SessionContext;
let spawnCh = 0;
let startedCh = 0;
let stdioCh = 0;
let killCh = 0;
let sendCh = 0;
let syncCh = 0;

// ---- what a spawn is compared by ----

/** Variables the child gets that differ from this process's environment (computed before ours are added). */
function envChanges(envPairs: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(envPairs)) return out;
  for (const pair of envPairs as string[]) {
    const eq = pair.indexOf('=', 1);
    if (eq < 0) continue;
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (process.env[key] !== value) out[key] = value;
  }
  return out;
}

/** The environment changes as stored and compared: secrets as the word [redacted] (redaction/). */
function redactedEnvChanges(envPairs: unknown): Record<string, string> {
  const changes = envChanges(envPairs);
  return redaction()?.spawnEnv(changes) ?? changes;
}

/** Node's normalized stdio entries (getValidStdio) as a shape: what the child is connected to. */
function stdioShape(stdio: unknown): string[] {
  if (!Array.isArray(stdio)) return [];
  return stdio.map((s: any) => {
    switch (s?.type) {
      case 'pipe':
      case 'overlapped':
        return s.ipc ? 'ipc' : 'pipe';
      case 'ignore':
      case 'inherit':
        return s.type;
      case 'fd':
        return `fd:${s.fd}`;
      default:
        return 'stream';
    }
  });
}

function spawnKey(file: unknown, args: unknown, cwd: unknown, envPairs: unknown, stdio: unknown, options: any): SpawnKey {
  const mapped = (v: unknown) => (typeof v === 'string' && v.startsWith('/') ? engine.recordedPath(v) : String(v));
  const key: SpawnKey = {
    file: mapped(file),
    args: Array.isArray(args) ? args.map(mapped) : [],
    cwd: typeof cwd === 'string' ? engine.recordedPath(cwd) : null,
    env: redactedEnvChanges(envPairs),
    stdio: stdioShape(stdio),
  };
  if (options?.detached) key.detached = true;
  if (typeof options?.uid === 'number') key.uid = options.uid;
  if (typeof options?.gid === 'number') key.gid = options.gid;
  return key;
}

// ---- record: the child's environment ----

/** Puts the recording's environment into the child's (in place): a Node.js child is recorded too. */
function addRecordingEnv(envPairs: unknown): void {
  if (!Array.isArray(envPairs)) return;
  const pairs = envPairs as string[];
  const extra = session.childEnv();
  const indexOf = (key: string) => pairs.findIndex((p) => p.startsWith(`${key}=`));
  const nodeOptionsAt = indexOf('NODE_OPTIONS');
  extra.NODE_OPTIONS = withPreload(nodeOptionsAt >= 0 ? pairs[nodeOptionsAt]!.slice('NODE_OPTIONS='.length) : undefined);
  for (const [key, value] of Object.entries(extra)) {
    const at = indexOf(key);
    if (at >= 0) pairs[at] = `${key}=${value}`;
    else pairs.push(`${key}=${value}`);
  }
  // A replay's variables never reach a recorded child.
  for (const key of [ENV.trace, ENV.replayRoot, ENV.stallMs]) {
    const at = indexOf(key);
    if (at >= 0) pairs.splice(at, 1);
  }
}

// ---- replay: reports ----

/** The recording folder's process that was this pid's child (or grandchild through a shell), if recorded. */
function recordedProcessOf(pid: unknown): number | null {
  if (!replayer || typeof pid !== 'number') return null;
  const dir = path.dirname(replayer.trace!.path);
  const me = replayer.trace!.header.process;
  // retrace's own reading: Node's readFileSync opens files through the (patched) exports object.
  return engine.unobserved(() => {
    try {
      for (const name of real.readdirSync(dir) as string[]) {
        if (!TRACE_FILE_PATTERN.test(name)) continue;
        const h = TraceFile.open(path.join(dir, name)).header;
        if (h.parent === me && (h.pid === pid || h.ppid === pid)) return h.process;
      }
    } catch {
      // no readable sibling traces: say nothing about them
    }
    return null;
  });
}

function describeChild(st: ChildState): string {
  const number = recordedProcessOf(st.pid);
  return `child process \`${st.key ? commandLine(st.key) : '?'}\` (pid ${st.pid ?? 'none'}${number === null ? '' : `, recorded as process ${number}`})`;
}

/** Replay: the next event is this spawn, or the replay stops saying how the command changed. */
function checkSpawn(channel: string, key: SpawnKey): void {
  const ev = replayer!.peek();
  if (!ev) return; // the engine reports the end of the recording
  if (ev.kind === 'deliver' || ev.channel.name !== channel) {
    engine.diverge(`event ${ev.index}: the program started child process \`${commandLine(key)}\`, but the recording has ${replayer!.describeEvent(ev)}`);
  }
  const recorded = (ev as { args: unknown }).args as SpawnKey;
  const changes: string[] = [];
  const same = (a: unknown, b: unknown) => encodeValue(a).equals(encodeValue(b));
  if (recorded.file !== key.file || !same(recorded.args, key.args)) {
    changes.push(`the command changed: recorded \`${commandLine(recorded)}\`, now \`${commandLine(key)}\``);
  }
  for (const field of ['cwd', 'env', 'stdio', 'detached', 'uid', 'gid', 'input', 'timeout'] as const) {
    if (!same(recorded[field], key[field])) changes.push(`${field} changed: recorded ${describeValue(recorded[field], 300)}, now ${describeValue(key[field], 300)}`);
  }
  if (changes.length === 0) return;
  let number: number | null = null;
  if (channel === SPAWN_CHANNEL) {
    const started = startedResultAfter(ev);
    number = started === null ? null : recordedProcessOf(started);
  }
  engine.diverge(`event ${ev.index}: the program started a different child process than recorded${number === null ? '' : ` (recorded as process ${number})`}: ${changes.join('; ')}`);
}

/** The pid recorded for the spawn request `ev` (its 'started' call follows it in the trace). */
function startedResultAfter(ev: TraceEvent): number | null {
  if (ev.kind !== 'request') return null;
  return engine.unobserved(() => {
    try {
      for (const later of TraceFile.open(replayer!.trace!.path).events()) {
        if (later.index <= ev.index) continue;
        if (later.kind === 'call' && later.channel.name === STARTED_CHANNEL && (later.args as number[])[0] === ev.reqId) {
          return (later.result as { pid?: number }).pid ?? null;
        }
        if (later.index > ev.index + 8) break;
      }
    } catch {
      // not worth failing the report for
    }
    return null;
  });
}

function unreachable(): never {
  throw new Error('retrace internal error: a replayed child process tried to run live');
}

// ---- deliveries to a child ----

function deliverChild(st: ChildState, kind: number, ...rest: unknown[]): void {
  engine.deliver(st.id, [kind, mark(true), ...rest]);
}

/** Replay: what each delivery to a child does, as Node would on the event from libuv. */
function childDelivery(st: ChildState, p: any[]): void {
  switch (p[0]) {
    case ChildDelivery.EXIT: {
      st.exited = true;
      const handle = st.child._handle;
      if (handle && typeof handle.onexit === 'function') handle.onexit(p[2], p[3]);
      break;
    }
    case ChildDelivery.IPC_DATA: {
      const bytes = p[2] as Buffer;
      const arrayBuffer = new ArrayBuffer(bytes.length);
      new Uint8Array(arrayBuffer).set(bytes);
      streamBaseState[kReadBytesOrError] = bytes.length;
      streamBaseState[kArrayBufferOffset] = 0;
      st.ipc?.onread?.call(st.ipc, arrayBuffer);
      break;
    }
    case ChildDelivery.IPC_EOF:
      st.ipcOpen = false;
      streamBaseState[kReadBytesOrError] = p[2] as number;
      st.ipc?.onread?.call(st.ipc, undefined);
      break;
    case ChildDelivery.IPC_WRITTEN: {
      const req = st.ipcWrites.shift();
      if (req && typeof req.oncomplete === 'function') req.oncomplete(p[2], st.ipc, undefined);
      break;
    }
  }
  if (st.exited && !st.ipcOpen && st.ipcWrites.length === 0) forgetOwn(st.id);
}

// ---- the IPC channel ----

const IPC_WRITES = ['writeUtf8String', 'writeBuffer'] as const;
let warnedHandleSent = false;

/** Record: the bytes read from the channel, and each message written, with its completion. */
function observeIpc(channel: any, st: ChildState): void {
  st.ipcOpen = true;
  let proto = Object.getPrototypeOf(channel);
  let desc: PropertyDescriptor | undefined;
  while (proto && !(desc = Object.getOwnPropertyDescriptor(proto, 'onread'))) proto = Object.getPrototypeOf(proto);
  if (desc?.set && desc.get) {
    const protoSet = desc.set;
    let current: AnyFn | undefined = desc.get.call(channel);
    let warned = false;
    Object.defineProperty(channel, 'onread', {
      configurable: true,
      get: () => current,
      set(fn: AnyFn | undefined) {
        current = fn;
        protoSet.call(channel, typeof fn !== 'function' ? fn : function onreadObserved(this: any, arrayBuffer: ArrayBuffer | undefined) {
          const nread = streamBaseState[kReadBytesOrError]!;
          if (arrayBuffer) {
            if (channel.pendingHandle && !warned) {
              warned = true;
              real.writeSync(2, 'retrace: warning: a handle (socket or server) came over an IPC channel; handles passed between processes do not replay\n');
            }
            deliverChild(st, ChildDelivery.IPC_DATA, Buffer.from(new Uint8Array(arrayBuffer, streamBaseState[kArrayBufferOffset]!, nread)));
          } else {
            st.ipcOpen = false;
            deliverChild(st, ChildDelivery.IPC_EOF, nread);
          }
          return fn.call(this, arrayBuffer);
        });
      },
    });
  }
  for (const name of IPC_WRITES) {
    const write: AnyFn = channel[name];
    if (typeof write !== 'function') continue;
    Object.defineProperty(channel, name, {
      configurable: true,
      writable: true,
      value: function writeObserved(this: any, req: any, data: unknown, handle: unknown) {
        if (handle && !warnedHandleSent) {
          warnedHandleSent = true;
          real.writeSync(2, 'retrace: warning: a handle (socket or server) was sent over an IPC channel; handles passed between processes do not replay\n');
        }
        const outcome = engine.call(sendCh, [st.id, data], () => {
          const err = write.call(this, req, data, handle) as number;
          return { err, async: streamBaseState[kLastWriteWasAsync]!, queued: channel.writeQueueSize as number };
        });
        streamBaseState[kLastWriteWasAsync] = outcome.async;
        if (outcome.err === 0 && outcome.async) observeCompletion(req, st);
        return outcome.err;
      },
    });
  }
}

/** Record: Node sets the write request's oncomplete after the write returns; the completion is a delivery. */
function observeCompletion(req: any, st: ChildState): void {
  let observed: AnyFn | undefined;
  Object.defineProperty(req, 'oncomplete', {
    configurable: true,
    get: () => observed,
    set(fn: AnyFn) {
      observed = typeof fn !== 'function' ? fn : function oncompleteObserved(this: any, status: number, ...rest: unknown[]) {
        deliverChild(st, ChildDelivery.IPC_WRITTEN, status);
        return fn.call(this, status, ...rest);
      };
    },
  });
}

/** Replay: the channel's handle reads nothing and writes nothing; the recording feeds it. */
function replayIpc(channel: any, st: ChildState): void {
  st.ipc = channel;
  st.ipcOpen = true;
  const realClose: AnyFn = channel.close;
  const define = (name: string, value: unknown) => Object.defineProperty(channel, name, { configurable: true, writable: true, value });
  define('onread', undefined);
  define('writeQueueSize', 0);
  define('readStart', () => 0);
  define('readStop', () => 0);
  define('ref', () => {});
  define('unref', () => {});
  define('close', function close(this: any, cb?: AnyFn) {
    return realClose.call(channel, cb);
  });
  for (const name of IPC_WRITES) {
    define(name, function writeReplayed(req: any, data: unknown) {
      checkSend(st, data);
      const outcome = engine.call(sendCh, [st.id, data], unreachable) as { err: number; async: number; queued: number };
      streamBaseState[kLastWriteWasAsync] = outcome.async;
      channel.writeQueueSize = outcome.queued;
      if (outcome.err === 0 && outcome.async) st.ipcWrites.push(req);
      return outcome.err;
    });
  }
}

/** Replay: a different message than recorded stops the replay, saying which child and what changed. */
function checkSend(st: ChildState, data: unknown): void {
  const ev = replayer!.peek();
  if (!ev || ev.kind !== 'call' || ev.channel.name !== SEND_CHANNEL) return;
  const [id, recorded] = ev.args as [number, unknown];
  const show = (v: unknown) => describeValue(Buffer.isBuffer(v) ? v : String(v).replace(/\n$/, ''), 300);
  if (id !== st.id) engine.diverge(`event ${ev.index}: the recording sends a message to another child process here; the program sent ${show(data)} to ${describeChild(st)}`);
  const equal = Buffer.isBuffer(recorded) && Buffer.isBuffer(data) ? recorded.equals(data) : recorded === data;
  if (!equal) engine.diverge(`event ${ev.index}: the program sent a different message to ${describeChild(st)}: recorded ${show(recorded)}, now ${show(data)}`);
}

// ---- stdio ----

/** Replay: what Node wraps in the child's stdio sockets while spawn runs; the sockets become stand-ins right after. */
function inertStreamHandle(): object {
  return {
    reading: false,
    onread: null,
    readStart: () => 0,
    readStop: () => 0,
    close(cb?: () => void) {
      if (typeof cb === 'function') process.nextTick(cb);
    },
    ref() {},
    unref() {},
  };
}

/** The bytes of one _writeGeneric call (as net.ts computes them). */
function writtenBytes(writev: boolean, data: any, encoding: string): Buffer {
  const toBuffer = (chunk: any, enc: string) =>
    Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, (enc === 'buffer' ? 'utf8' : enc) as BufferEncoding) : Buffer.from(chunk);
  if (writev) return Buffer.concat((data as any[]).map((e) => (e && typeof e === 'object' && 'chunk' in e ? toBuffer(e.chunk, e.encoding) : toBuffer(e, 'utf8'))));
  return toBuffer(data, encoding);
}

/** Replay: bytes written to a child's stdin are checked here first, for a report that names the child. */
function checkStdinWrite(sock: any, stdioId: number, st: ChildState): void {
  const writeGeneric: AnyFn = sock._writeGeneric;
  Object.defineProperty(sock, '_writeGeneric', {
    configurable: true,
    writable: true,
    value: function _writeGeneric(this: any, writev: boolean, data: any, encoding: string, cb: AnyFn) {
      const ev = replayer!.peek();
      if (ev && !this.destroyed) {
        const bytes = writtenBytes(writev, data, encoding);
        const [id, recorded] = ev.kind === 'call' && ev.channel.name === 'net.write' ? (ev.args as [number, Buffer]) : [null, null];
        if (id !== stdioId) {
          engine.diverge(`event ${ev.index}: the program wrote ${bytes.length} bytes to the stdin of ${describeChild(st)}, but the recording has ${replayer!.describeEvent(ev)}`);
        }
        if (Buffer.isBuffer(recorded) && !recorded.equals(bytes)) {
          let at = 0;
          while (at < recorded.length && at < bytes.length && recorded[at] === bytes[at]) at++;
          const show = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, at - 24), at + 40).toString('latin1'));
          engine.diverge(
            `event ${ev.index}: the program wrote different bytes to the stdin of ${describeChild(st)}: ` +
              `${recorded.length} bytes recorded, ${bytes.length} now, first difference at byte ${at}\n` +
              `retrace:   recorded ${show(recorded)}\nretrace:   now      ${show(bytes)}`,
          );
        }
      }
      return writeGeneric.call(this, writev, data, encoding, cb);
    },
  });
}

// ---- the asynchronous APIs ----

/**
 * The arguments of the native Process#spawn: Node 24 passes them one by one (file, args, cwd,
 * envPairs, stdio, flags, uid, gid), Node 22 as one options object.
 */
function nativeSpawnArgs(spawnArgs: unknown[]): { file: unknown; args: unknown; cwd: unknown; envPairs: unknown; stdio: any[] } {
  const [first] = spawnArgs;
  if (first !== null && typeof first === 'object') {
    const o = first as any;
    return { file: o.file, args: o.args, cwd: o.cwd, envPairs: o.envPairs, stdio: o.stdio };
  }
  const [file, args, cwd, envPairs, stdio] = spawnArgs;
  return { file, args, cwd, envPairs, stdio: stdio as any[] };
}

/** Record: the real handle's spawn, onexit and kill are observed; Node's spawn runs as it is. */
function spawnRecorded(this: any, original: AnyFn, options: any): unknown {
  const handle = this._handle;
  const st: ChildState = { id: 0, child: this, key: null, pid: undefined, failed: false, exited: false, ipcOpen: false, ipc: null, ipcWrites: [] };
  const realSpawn: AnyFn = handle.spawn;
  const realKill: AnyFn = handle.kill;
  const nodeOnexit: AnyFn = handle.onexit;
  handle.spawn = function spawnObserved(this: any, ...spawnArgs: unknown[]) {
    const { file, args, cwd, envPairs, stdio } = nativeSpawnArgs(spawnArgs);
    st.key = spawnKey(file, args, cwd, envPairs, stdio, options);
    st.id = engine.request(spawnCh, st.key);
    addRecordingEnv(envPairs);
    const started = engine.call(startedCh, [st.id], () => {
      const err = realSpawn.apply(this, spawnArgs) as number;
      return { err, pid: this.pid as number | undefined };
    });
    st.pid = started.pid;
    if (started.err !== 0) st.failed = true;
    observeStdio(st, stdio, started.err, (entry, fd) => {
      const pipe = newState(engine.request(stdioCh, [st.id, fd]), null, false);
      tapHandle(entry.handle, pipe);
    });
    return started.err;
  };
  handle.onexit = function onexitObserved(this: any, exitCode: number, signalCode: string) {
    // After a failed start Node calls onexit itself, from a nextTick: that is not the event loop.
    if (!st.failed) {
      st.exited = true;
      deliverChild(st, ChildDelivery.EXIT, exitCode, signalCode);
    }
    return nodeOnexit.call(this, exitCode, signalCode);
  };
  handle.kill = function killObserved(this: any, signal: number) {
    return engine.call(killCh, [st.id, signal], () => realKill.call(this, signal));
  };
  return engine.unobserved(() => original.call(this, options));
}

/** Start errors Node reports with an 'error' event (from a nextTick) after building the stdio sockets. */
const REPORTED_START_ERRORS = new Set(['EACCES', 'EAGAIN', 'ENOENT']);
const util = builtin<typeof import('node:util')>('node:util');
function socketsFollow(err: number): boolean {
  if (err === 0) return true;
  try {
    return REPORTED_START_ERRORS.has(util.getSystemErrorName(err));
  } catch {
    return false;
  }
}

/** Visits the stdio pipes Node will wrap in sockets (and the IPC channel), in fd order. */
function observeStdio(st: ChildState, stdio: any[], err: number, pipe: (entry: any, fd: number) => void): void {
  if (!Array.isArray(stdio) || !socketsFollow(err)) return;
  stdio.forEach((entry, fd) => {
    if ((entry?.type !== 'pipe' && entry?.type !== 'overlapped') || !entry.handle) return;
    if (entry.ipc) {
      if (engine.recording) observeIpc(entry.handle, st);
      else replayIpc(entry.handle, st);
    } else {
      pipe(entry, fd);
    }
  });
}

/** Replay: the native handle is a stand-in; Node's spawn runs on it and builds the ChildProcess as it would. */
function spawnReplayed(this: any, original: AnyFn, options: any): unknown {
  const child = this;
  const st: ChildState = { id: 0, child, key: null, pid: undefined, failed: false, exited: false, ipcOpen: false, ipc: null, ipcWrites: [] };
  const pipes: { fd: number; id: number }[] = [];
  const standInHandle = {
    pid: undefined as number | undefined,
    onexit: this._handle.onexit as AnyFn,
    spawn(...spawnArgs: unknown[]) {
      const { file, args, cwd, envPairs, stdio } = nativeSpawnArgs(spawnArgs);
      st.key = spawnKey(file, args, cwd, envPairs, stdio, options);
      checkSpawn(SPAWN_CHANNEL, st.key);
      st.id = engine.request(spawnCh, st.key);
      expectOwn(st.id, (p) => childDelivery(st, p));
      const started = engine.call(startedCh, [st.id], unreachable) as { err: number; pid: number | undefined };
      this.pid = started.pid;
      st.pid = started.pid;
      if (started.err !== 0) st.failed = true;
      observeStdio(st, stdio, started.err, (entry, fd) => {
        pipes.push({ fd, id: engine.request(stdioCh, [st.id, fd]) });
        const realPipe = entry.handle;
        entry.handle = inertStreamHandle();
        realPipe.close();
      });
      return started.err;
    },
    kill(signal: number) {
      return engine.call(killCh, [st.id, signal], unreachable);
    },
    close() {},
    ref() {},
    unref() {},
    hasRef: () => false,
  };
  this._handle = standInHandle;
  const result = engine.unobserved(() => original.call(this, options));
  for (const { fd, id } of pipes) {
    const sock = child.stdio?.[fd];
    if (!sock) continue;
    sock._handle = null;
    const pipe = newState(id, sock, false);
    makeStandIn(sock, pipe);
    expectOwn(id, (p) => socketDelivery(pipe, p));
    if (fd === 0) checkStdinWrite(sock, id, st);
  }
  return result;
}

// ---- the synchronous APIs ----

function syncKey(options: any): SpawnKey {
  const key = spawnKey(options.file, options.args, options.cwd, options.envPairs, options.stdio, options);
  const inputs = Array.isArray(options.stdio) ? options.stdio.map((s: any) => (s?.input != null ? Buffer.from(s.input.buffer, s.input.byteOffset, s.input.byteLength) : null)) : [];
  if (inputs.some((i: Buffer | null) => i !== null)) key.input = inputs;
  if (typeof options.timeout === 'number' && options.timeout > 0) key.timeout = options.timeout;
  return key;
}

function installSync(): void {
  const spawnSync = binding('spawn_sync');
  const realSpawnSync: AnyFn = spawnSync.spawn;
  spawnSync.spawn = function spawnSyncObserved(this: unknown, options: any) {
    if (engine.passthrough) return realSpawnSync.call(this, options);
    const key = syncKey(options);
    if (engine.recording) {
      addRecordingEnv(options.envPairs);
      return engine.call(syncCh, key, () => realSpawnSync.call(this, options));
    }
    checkSpawn(SPAWN_SYNC_CHANNEL, key);
    return engine.call(syncCh, key, unreachable);
  };
}

export const childProcessBoundary: Boundary = {
  name: 'child-process',
  install(e: Engine, s: SessionContext) {
    engine = e;
    session = s;
    replayer = e.replaying ? e : null;
    spawnCh = e.channel(SPAWN_CHANNEL, Shape.Request);
    startedCh = e.channel(STARTED_CHANNEL, Shape.Call);
    stdioCh = e.channel(STDIO_CHANNEL, Shape.Request);
    killCh = e.channel(KILL_CHANNEL, Shape.Call);
    sendCh = e.channel(SEND_CHANNEL, Shape.Call);
    syncCh = e.channel(SPAWN_SYNC_CHANNEL, Shape.Call);

    // Loaded here, not when this module loads: lib/child_process.js keeps the setTimeout it finds
    // in node:timers at load time (spawn's and execFile's `timeout`), which must be the patched one.
    const childProcess = builtin<typeof import('node:child_process')>('node:child_process');
    const proto = childProcess.ChildProcess.prototype as any;
    const original: AnyFn = proto.spawn;
    const patched = function spawn(this: any, options: any) {
      if (engine.passthrough || !this._handle) return original.call(this, options);
      return engine.recording ? spawnRecorded.call(this, original, options) : spawnReplayed.call(this, original, options);
    };
    Object.defineProperty(patched, 'name', { value: original.name, configurable: true });
    Object.defineProperty(patched, 'length', { value: original.length, configurable: true });
    proto.spawn = patched;
    installSync();
  },
};
