// net: TCP and local-socket clients and servers (node:net), the layer that http, https, fetch
// (Node's bundled undici) and database clients (pg, mysql2, ioredis) ride on. tls.ts and http.ts
// build on the state and stand-ins defined here.
//
// Record observes, copies and passes through; it never substitutes a socket. Only sockets the
// program connects (Socket.prototype.connect) or a listening server accepts are tracked; stdio,
// child-process pipes and IPC channels, which are net.Sockets too, are left alone. Each tracked
// socket is one request (`net.connect`, `net.accepted`, `tls.connect`, `tls.accepted`); everything
// the event loop hands to JavaScript for it is a delivery to that request, written where it enters
// JavaScript, as raw bytes (no protocol decoding):
// - reads: an own `onread` accessor on the socket's handle (TCP, Pipe or TLSWrap) wraps whatever
//   Node assigns (onStreamRead, the HTTP agent's free-socket guard) and reads streamBaseState;
// - connect-phase events (lookup, connectionAttempt*, connect), socket timeouts and 'close',
//   through Socket.prototype.emit (tracked sockets only);
// - asynchronous write and shutdown completions, through the callbacks of _writeGeneric/_final;
// - accepted connections, through the listening handle's `onconnection`.
// Writes (`net.write`) and shutdowns (`net.shutdown`) are calls whose arguments are the bytes and
// whose result says whether they completed synchronously, failed, or complete later.
//
// Replay opens no socket and resolves no name. A tracked socket is a real net.Socket without a
// handle (Node's stream and HTTP code run unchanged on it) whose handle-dependent methods are own
// properties answering from the recording; deliveries push data, emit events and complete writes
// in their recorded turns. A listening server gets a stand-in listening handle, so listen(0)
// reports the recorded port. Bytes the program writes are compared with the recording: a different
// write is a divergence that says where the bytes differ.
//
// A delivery payload is [kind, inline, ...]. `inline` says the delivery entered JavaScript in the
// same turn as the previous network event (1: synchronously, 2: from a nextTick or microtask of that
// turn), not from the event loop: replay takes such deliveries at that point instead of waiting for
// the sequencer's next turn.
import { executionAsyncResource } from 'node:async_hooks';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { SOCKET_DELIVERY } from './catalog.js';
import { real } from '../core/originals.js';
import { Shape } from '../core/trace/format.js';
import { comparableWrite, redaction, type Slot } from '../redaction/index.js';
import { describeRedacted } from '../redaction/explain.js';
import { builtin, disguise } from './wrap.js';
import { currentStack } from '../core/own-stack.js';

type AnyFn = (this: any, ...args: any[]) => any;

export const net = builtin('node:net');
const dc = builtin<typeof import('node:diagnostics_channel')>('node:diagnostics_channel');
const util = builtin<typeof import('node:util')>('node:util');
// streamBaseState tells an onread callback how many bytes were read (or the error). The same
// binding object Node's own stream code reads; process.binding allows it without a warning.
const streamWrap = (process as unknown as { binding(name: string): any }).binding('stream_wrap');
const streamBaseState: Int32Array = streamWrap.streamBaseState;
const kReadBytesOrError: number = streamWrap.kReadBytesOrError;
const kArrayBufferOffset: number = streamWrap.kArrayBufferOffset;
const UV_EOF = -4095;

/** Delivery kinds: the first element of every payload (declared in the channel catalog, which the decoders read). */
export const K = SOCKET_DELIVERY;

const CONNECTING = 0;
const OPEN = 1;

/** What the boundary knows about one tracked socket, in either mode. */
export interface SockState {
  id: number;
  sock: any;
  /** CONNECTING until 'connect' (only for sockets that connected themselves), then OPEN. */
  phase: number;
  ownConnect: boolean;
  /** Accepted by a server: HTTP response heads it writes have their Date value masked. */
  accepted: boolean;
  closed: boolean;
  // replay
  /** The socket would have a handle here (connect called, not destroyed). */
  open: boolean;
  local: object | null;
  bytesRead: number;
  bytesWritten: number;
  pendingWrites: AnyFn[];
  pendingShutdown: AnyFn | null;
  thrown: { error: unknown } | null;
  /** TLS: set by tls.ts. */
  tls: any;
  /** Replay: TLS stand-in layered on this raw stand-in's connection. */
  rawParent: any;
  /** Record: inside _onTimeout, so a 'timeout' emit is a real firing. */
  inTimeout: boolean;
}

function newState(id: number, sock: any, ownConnect: boolean): SockState {
  return {
    id, sock, phase: ownConnect ? CONNECTING : OPEN, ownConnect, accepted: false, closed: false, open: true,
    local: null, bytesRead: 0, bytesWritten: 0, pendingWrites: [], pendingShutdown: null, thrown: null,
    tls: null, rawParent: null, inTimeout: false,
  };
}

/** Tracked sockets and the states of their handles (record), and stand-ins (replay). */
export const states = new WeakMap<object, SockState>();
const handleStates = new WeakMap<object, SockState>();

export let engine: Engine;
/** The engine while replaying (null while recording): what the recording holds next. */
let replayer: Engine | null = null;
/** Request ids of this boundary's sockets and servers: inline pulls only take their deliveries. */
const ownIds = new Set<number>();

let writeCh = 0;
let shutdownCh = 0;
/** The local address asked for while connecting: the kernel picks it when connect(2) is called. */
let socknameCh = 0;

// ---- record: inline marks ----

let syncOpen = false;
const clearSync = () => {
  syncOpen = false;
};

/**
 * The inline mark of a delivery written now. `start`: the delivery comes from a callback libuv
 * made (a read, a completion), so it starts a turn of its own. Otherwise: 1 if a network event came
 * before it in the same synchronous run; 2 if it runs in a nextTick or a microtask (whose async
 * resource is a plain object or a promise, where a callback from the loop runs in its handle's or
 * request's); 0 if it begins a turn.
 */
export function mark(start = false): number {
  let inline = 0;
  if (!start) {
    if (syncOpen) inline = 1;
    else {
      const ctor = (executionAsyncResource() as { constructor?: unknown } | undefined)?.constructor;
      if (ctor === Object || ctor === Promise || ctor === undefined) inline = 2;
    }
  }
  if (!syncOpen) {
    syncOpen = true;
    process.nextTick(clearSync);
  }
  return inline;
}

export function deliver(id: number, kind: number, ...rest: unknown[]): void {
  engine.deliver(id, [kind, mark(START_KINDS.has(kind)), ...rest]);
}

/** Deliveries that only ever come from a callback of the event loop. */
const START_KINDS = new Set<number>([K.EOF, K.RERR, K.GUARD, K.TIMEOUT, K.WDONE, K.SDONE, K.CONNECT, K.ACCEPT, K.AERR, K.HS, K.TLSERR]);

// ---- replay: inline pulls ----

/** Replay: takes the deliveries record marked inline (up to `level`) while they are next. */
export function pullInline(level: number): void {
  const r = replayer;
  if (!r) return;
  for (;;) {
    const ev = r.peek();
    if (!ev || ev.kind !== 'deliver' || !ownIds.has(ev.reqId)) return;
    const p = ev.payload as unknown[];
    const inline = Array.isArray(p) ? (p[1] as number) : 0;
    if (!(inline >= 1 && inline <= level)) return;
    if (!r.deliverIfNext(ev.reqId)) return;
  }
}

export const pullLater = (): void => process.nextTick(pullInline, 2);

/** Replay: takes the next delivery now if it is for `id` and of `kind`. */
export function takeIfNext(id: number, kind: number): boolean {
  const ev = replayer?.peek();
  if (!ev || ev.kind !== 'deliver' || ev.reqId !== id || !Array.isArray(ev.payload) || ev.payload[0] !== kind) return false;
  return replayer!.deliverIfNext(id);
}

/** Replay: registers a request id of this boundary with its delivery handler. */
export function expectOwn(id: number, handler: (p: any[]) => void): void {
  ownIds.add(id);
  engine.expect(id, (payload) => {
    handler(payload as any[]);
    pullInline(1);
    pullLater();
  }, true);
}

export function forgetOwn(id: number): void {
  ownIds.delete(id);
  engine.forget(id);
}

// ---- shared helpers ----

/** The bytes of one _writeGeneric call, before Node's writev mutates its argument. */
function writtenBytes(writev: boolean, data: any, encoding: string): Buffer {
  if (writev) {
    const parts: Buffer[] = [];
    for (const entry of data as any[]) {
      const chunk = entry && typeof entry === 'object' && 'chunk' in entry ? entry.chunk : entry;
      parts.push(Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, entry.encoding) : Buffer.from(chunk));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, encoding === 'buffer' ? 'utf8' : (encoding as BufferEncoding));
  return Buffer.from(data);
}

const HTTP1 = Buffer.from('HTTP/1.');
const HEAD_END = Buffer.from('\r\n\r\n');
const DATE_HEADER = Buffer.from('\r\nDate: ');
const IMF_FIXDATE_LENGTH = 29;

/**
 * Node writes the Date header of HTTP responses from a clock of its own (live in replay): in a
 * response head written by an accepted socket, its value is masked before comparison.
 */
export function maskResponseDate(bytes: Buffer): Buffer {
  if (bytes.length < 16 || bytes.compare(HTTP1, 0, HTTP1.length, 0, HTTP1.length) !== 0) return bytes;
  let end = bytes.indexOf(HEAD_END);
  if (end < 0) end = bytes.length;
  const at = bytes.indexOf(DATE_HEADER);
  if (at < 0 || at > end || at + DATE_HEADER.length + IMF_FIXDATE_LENGTH > bytes.length) return bytes;
  const copy = Buffer.from(bytes);
  copy.fill(0x23, at + DATE_HEADER.length, at + DATE_HEADER.length + IMF_FIXDATE_LENGTH);
  return copy;
}

/** An error like Node's ErrnoException(errno, syscall). */
export function errnoError(errno: number, syscall: string): Error {
  const code = util.getSystemErrorName(errno);
  const err = new Error(`${syscall} ${code}`) as NodeJS.ErrnoException;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

/** Node's internal symbols, found by description on objects that carry them. */
function symbolNamed(obj: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(obj).find((s) => s.description === description);
}

let ownerSymbol: symbol | undefined;
function ownerOf(handle: any): any {
  ownerSymbol ??= symbolNamed(handle, 'owner_symbol');
  return ownerSymbol ? handle[ownerSymbol] : undefined;
}

function addressOf(get: ((out: object) => number) | undefined, handle: object): object {
  const out = {};
  if (typeof get === 'function') get.call(handle, out);
  return out;
}

function connectKey(options: any): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  if (options.path != null) key.path = String(options.path);
  else {
    key.host = options.host || 'localhost';
    key.port = options.port;
  }
  for (const name of ['localAddress', 'localPort', 'family']) if (options[name] != null) key[name] = options[name];
  return key;
}

let normalizedSymbol: symbol | undefined;
function normalizeConnectArgs(args: unknown[]): any[] {
  normalizedSymbol ??= Object.getOwnPropertySymbols(net._normalizeArgs([]))[0];
  if (Array.isArray(args[0]) && normalizedSymbol && (args[0] as any)[normalizedSymbol]) return args[0] as any[];
  return net._normalizeArgs(args);
}

// ---- record: taps ----

let onStreamRead: AnyFn | null = null;

/** Record: an own `onread` accessor on the handle; what Node assigns is wrapped, the getter returns it unwrapped. */
function tapHandle(handle: any, st: SockState): void {
  if (!handle || handleStates.has(handle)) {
    if (handle) handleStates.set(handle, st);
    return;
  }
  let proto = Object.getPrototypeOf(handle);
  let desc: PropertyDescriptor | undefined;
  while (proto && !(desc = Object.getOwnPropertyDescriptor(proto, 'onread'))) proto = Object.getPrototypeOf(proto);
  if (!desc?.set || !desc.get) return;
  const protoSet = desc.set;
  handleStates.set(handle, st);
  let current: AnyFn | undefined = desc.get.call(handle);
  const wrap = (fn: AnyFn | undefined) => {
    if (typeof fn !== 'function') return fn;
    return function (this: any, arrayBuffer: ArrayBuffer) {
      const s = handleStates.get(this);
      if (s) noteRead(s, fn, arrayBuffer);
      return fn.call(this, arrayBuffer);
    };
  };
  Object.defineProperty(handle, 'onread', {
    configurable: true,
    enumerable: false,
    get() {
      return current;
    },
    set(fn: AnyFn | undefined) {
      current = fn;
      const s = handleStates.get(this);
      // The first assignment is initSocketHandle's, from the socket Node just built around the handle.
      if (s && !s.sock) {
        s.sock = ownerOf(this);
        if (s.sock) states.set(s.sock, s);
      }
      if (onStreamRead === null && fn && fn.name === 'onStreamRead') onStreamRead = fn;
      protoSet.call(this, wrap(fn));
    },
  });
  if (current !== undefined) {
    if (onStreamRead === null && current.name === 'onStreamRead') onStreamRead = current;
    protoSet.call(handle, wrap(current));
  }
}

function noteRead(st: SockState, fn: AnyFn, arrayBuffer: ArrayBuffer): void {
  const nread = streamBaseState[kReadBytesOrError]!;
  if (nread === 0) return;
  if (fn === onStreamRead) {
    if (nread > 0) {
      mark(true);
      const bytes = Buffer.from(arrayBuffer, streamBaseState[kArrayBufferOffset]!, nread);
      const r = redaction();
      engine.deliver(st.id, [K.DATA, 0, r ? r.socket(st).redactReceived(bytes) : bytes]);
    } else if (nread === UV_EOF) deliver(st.id, K.EOF);
    else deliver(st.id, K.RERR, nread);
  } else if (fn.name === 'freeSocketOnReadGuard') {
    deliver(st.id, K.GUARD);
  }
}

/** The events of a tracked socket that noteEmit records. */
const NOTED_EMITS = new Set(['lookup', 'connectionAttempt', 'connectionAttemptFailed', 'connectionAttemptTimeout', 'connect', 'timeout', 'close', 'session']);

/** Record: what Socket.prototype.emit shows of a tracked socket's life (the events in NOTED_EMITS). */
function noteEmit(st: SockState, sock: any, ev: string, args: unknown[]): void {
  switch (ev) {
    case 'lookup':
    case 'connectionAttempt':
    case 'connectionAttemptFailed':
    case 'connectionAttemptTimeout':
      if (st.phase === CONNECTING && st.ownConnect) deliver(st.id, K.EMIT, ev, args, engine.passthrough ? 1 : 0);
      return;
    case 'connect':
      if (st.phase === CONNECTING && st.ownConnect) {
        st.phase = OPEN;
        tapHandle(sock._handle, st);
        const attempted = sock.autoSelectFamilyAttemptedAddresses;
        deliver(st.id, K.CONNECT, sock._getsockname(), sock._getpeername(), Array.isArray(attempted) ? [...attempted] : null);
      }
      return;
    case 'timeout':
      if (st.inTimeout) deliver(st.id, K.TIMEOUT);
      return;
    case 'close':
      if (!st.closed) {
        st.closed = true;
        deliver(st.id, K.CLOSE, args[0] === true);
      }
      return;
    case 'session':
      if (st.tls) deliver(st.id, K.SESSION, args[0]);
      return;
  }
}

// ---- replay: the stand-in ----

/**
 * Replay: turns a handle-less net.Socket into the recorded socket. Node's own stream code keeps
 * working on it; what depends on a handle answers from the recording.
 */
export function makeStandIn(sock: any, st: SockState): void {
  st.sock = sock;
  states.set(sock, st);
  socketsById.set(st.id, new WeakRef(sock));
  // A timeout set before connect() (net.connect's `timeout` option) made a real timer: the
  // recording says when it fires.
  const kTimeout = symbolNamed(sock, 'timeout');
  if (kTimeout && sock[kTimeout]) {
    real.clearTimeout(sock[kTimeout]);
    sock[kTimeout] = null;
  }
  const define = (name: string, value: unknown) => Object.defineProperty(sock, name, { value, writable: true, configurable: true, enumerable: false });
  const getter = (name: string, get: () => unknown) => Object.defineProperty(sock, name, { get, configurable: true, enumerable: false });
  define('_read', function _read() {});
  define('_writeGeneric', replayWriteGeneric);
  define('_final', replayFinal);
  define('_destroy', replayDestroy);
  define('setTimeout', replaySetTimeout);
  define('ref', function ref(this: any) {
    return this;
  });
  define('unref', function unref(this: any) {
    return this;
  });
  define('_getsockname', function _getsockname() {
    if (st.phase === CONNECTING) return engine.call(socknameCh, [st.id], () => ({}));
    return st.local ?? {};
  });
  define('resetAndDestroy', function resetAndDestroy(this: any) {
    if (!st.open) return this.destroy(Object.assign(new Error('Socket is closed'), { code: 'ERR_SOCKET_CLOSED' }));
    if (this.connecting) {
      this.once('connect', () => {
        this.resetAndClosing = true;
        this.destroy();
      });
    } else {
      this.resetAndClosing = true;
      this.destroy();
    }
    return this;
  });
  getter('pending', () => !st.open || sock.connecting);
  getter('bytesRead', () => st.bytesRead);
  getter('_bytesDispatched', () => st.bytesWritten);
}

function stateOf(sock: any): SockState {
  const st = states.get(sock);
  if (!st) throw new Error('retrace internal error: a replayed socket has no state');
  return st;
}

function replayWriteGeneric(this: any, writev: boolean, data: any, encoding: string, cb: AnyFn): unknown {
  const st = stateOf(this);
  if (this.connecting || !st.open) return realWriteGeneric.call(this, writev, data, encoding, cb);
  this._pendingData = null;
  this._pendingEncoding = '';
  this._unrefTimer();
  const raw = writtenBytes(writev, data, encoding);
  const next = replayer?.peek();
  const recorded = next?.kind === 'call' && next.channel.name === 'net.write' && (next.args as unknown[])[0] === st.id ? (next.args as unknown[])[1] : null;
  const slots: Slot[] = [];
  const comparable = comparableWrite(st, raw, recorded, slots);
  const bytes = st.accepted ? maskResponseDate(comparable) : comparable;
  checkWrite(st, bytes, slots);
  const result: unknown = engine.call(writeCh, [st.id, bytes], () => 0);
  st.bytesWritten += raw.length;
  if (result instanceof Error) cb(result);
  else if (result === 1) st.pendingWrites.push(cb);
  else cb();
  return undefined;
}

/** A write that differs from the recorded one: say where, rather than print both buffers. */
function checkWrite(st: SockState, bytes: Buffer, slots: Slot[]): void {
  const ev = replayer?.peek();
  if (!ev || ev.kind !== 'call' || ev.channel.name !== 'net.write') return;
  const [id, recorded] = ev.args as [number, Buffer];
  if (!Buffer.isBuffer(recorded) || (id === st.id && recorded.equals(bytes))) return;
  if (id !== st.id) {
    engine.diverge(`event ${ev.index}: the recording has a write to socket ${id}, but the program wrote ${bytes.length} bytes to socket ${st.id} (${describeSocket(st)})`);
  }
  let at = 0;
  while (at < recorded.length && at < bytes.length && recorded[at] === bytes[at]) at++;
  const show = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, at - 24), at + 40).toString('latin1'));
  const origin = sourceOfChange(recorded, bytes, at);
  const redacted = redactionNote(recorded, bytes, at, slots);
  engine.diverge(
    `event ${ev.index}: socket ${st.id} (${describeSocket(st)}) wrote different bytes than recorded: ` +
      `${recorded.length} bytes recorded, ${bytes.length} now, first difference at byte ${at}\n` +
      `retrace:   recorded ${show(recorded)}\nretrace:   now      ${show(bytes)}` +
      (origin ? `\nretrace:   the new bytes match the program's source at ${origin}` : '') +
      (redacted ? `\nretrace:   ${redacted}` : ''),
  );
}

/**
 * Libraries (database clients) often write from their own callbacks, where the stack no longer
 * shows the program's line. Text in the changed part of the write that the recording does not
 * have, found in one of the program's own modules, points at the line that produced it.
 */
function sourceOfChange(recorded: Buffer, now: Buffer, at: number): string | null {
  if (!replayer) return null;
  let suffix = 0;
  while (suffix < recorded.length - at && suffix < now.length - at && recorded[recorded.length - 1 - suffix] === now[now.length - 1 - suffix]) suffix++;
  const changed = now.subarray(at, now.length - suffix).toString('latin1');
  const was = recorded.toString('latin1');
  const runs = (changed.match(/[\x20-\x7e]{6,}/g) ?? []).filter((r) => !was.includes(r));
  if (runs.length === 0) return null;
  const sources: { file: string; text: string }[] = [];
  for (const m of replayer.trace!.modules) {
    try {
      // Modules are listed as they were recorded; the project may have moved since.
      const recordedRoot = replayer.trace!.header.cwd;
      let file = fileURLToPath(m.url);
      if (file.startsWith(recordedRoot + path.sep)) file = real.processCwd() + file.slice(recordedRoot.length);
      sources.push({ file, text: String(real.readFileSync(file, 'utf8')) });
    } catch {
      // a module that is not a file here
    }
  }
  for (const run of runs) {
    const text = run.slice(0, 120);
    for (let size = text.length; size >= 8; size--) {
      for (let from = 0; from + size <= text.length; from++) {
        const piece = text.slice(from, from + size);
        if (was.includes(piece)) continue;
        for (const { file, text: source } of sources) {
          const index = source.indexOf(piece);
          if (index < 0) continue;
          const before = source.slice(0, index);
          const line = before.split('\n').length;
          const column = index - before.lastIndexOf('\n');
          const rel = path.relative(real.processCwd(), file);
          return `${rel.startsWith('..') ? file : rel}:${line}:${column}`;
        }
      }
    }
  }
  return null;
}

/**
 * A write that differs where the recording holds redacted values, or a recording with redacted
 * values the program may have computed on: say so, since no replay can reproduce such bytes.
 */
function redactionNote(recorded: Buffer, now: Buffer, at: number, slots: Slot[]): string | null {
  if (!redaction()) return null;
  if (slots.some((s) => at >= s.start && at < s.end)) {
    return 'the difference is in a redacted value: the program sent another redacted value than the one recorded here';
  }
  const what = describeRedacted(recorded, now, at);
  return what;
}

function describeSocket(st: SockState): string {
  const sock = st.sock;
  const peer = sock?._peername;
  const where = peer?.address ? `${peer.address}:${peer.port}` : sock?._host ?? '';
  return `${st.accepted ? 'accepted from' : 'connected to'} ${where || 'a peer'}${st.tls ? ', TLS' : ''}`;
}

function replayFinal(this: any, cb: AnyFn): unknown {
  const st = stateOf(this);
  if (this.connecting) return this.once('connect', () => this._final(cb));
  if (!st.open) return cb();
  const result: unknown = engine.call(shutdownCh, [st.id], () => 0);
  if (result instanceof Error) return cb(result);
  if (result === 1) st.pendingShutdown = cb;
  else cb();
  return undefined;
}

function replayDestroy(this: any, exception: Error | null, cb: AnyFn): void {
  const st = stateOf(this);
  // A destroy before the connection was made was recorded (the program's or Node's): take it.
  if (st.phase === CONNECTING) takeIfNext(st.id, K.FAIL);
  st.phase = OPEN;
  this.connecting = false;
  st.open = false;
  cb(exception);
  const raw = st.rawParent;
  if (raw && !raw.destroyed) {
    // A TLS socket's close destroys the socket it was layered on (TLSWrap.close).
    if (this._closeAfterHandlingError) queueMicrotask(() => raw.destroy());
    else raw.destroy();
  }
  if (this._server) {
    this._server._connections--;
    if (this._server._emitCloseIfDrained) this._server._emitCloseIfDrained();
  }
  pullLater();
}

function replaySetTimeout(this: any, msecs: number, callback?: AnyFn): unknown {
  if (this.destroyed) return this;
  this.timeout = msecs;
  if (typeof msecs !== 'number' || Number.isNaN(msecs) || msecs < 0) {
    // Node's own check (getTimerDuration) throws the same error.
    return realSetTimeout.call(this, msecs, callback);
  }
  if (callback !== undefined && typeof callback !== 'function') return realSetTimeout.call(this, msecs, callback);
  if (msecs === 0) {
    if (callback !== undefined) this.removeListener('timeout', callback);
  } else if (callback !== undefined) {
    this.once('timeout', callback);
  }
  return this;
}

/** Replay: what each delivery to a socket does, as Node would do it on the event from libuv. */
export function socketDelivery(st: SockState, p: any[]): void {
  const sock = st.sock;
  switch (p[0]) {
    case K.DATA: {
      sock._unrefTimer();
      if (sock.destroyed) return;
      const recorded = p[2] as Buffer;
      // The redaction parsers follow both directions, as they did when recording (and stand in
      // for a redacted value replay can compute: redaction/scram.ts).
      const r = redaction();
      const buf = r ? r.socket(st).replayReceived(recorded) : recorded;
      st.bytesRead += buf.length;
      sock.push(buf);
      return;
    }
    case K.EOF:
      sock._unrefTimer();
      if (!sock._readableState.endEmitted) {
        sock.push(null);
        sock.read(0);
      }
      return;
    case K.RERR:
      sock._unrefTimer();
      sock.destroy(errnoError(p[2] as number, 'read'));
      return;
    case K.GUARD:
      sock.destroy();
      return;
    case K.CLOSE:
      st.closed = true;
      sock.emit('close', p[2]);
      forgetOwn(st.id);
      socketsById.delete(st.id);
      return;
    case K.TIMEOUT:
      sock.emit('timeout');
      return;
    case K.WDONE: {
      const cb = st.pendingWrites.shift();
      const err = p[2] as Error | null;
      if (!cb) return;
      if (err) return void cb(err);
      if (!sock.destroyed) sock._unrefTimer();
      cb(null);
      return;
    }
    case K.SDONE: {
      const cb = st.pendingShutdown;
      st.pendingShutdown = null;
      cb?.();
      return;
    }
    case K.CONNECT: {
      if (sock.destroyed) return;
      st.phase = OPEN;
      sock.connecting = false;
      sock._sockname = null;
      st.local = (p[2] as object) ?? {};
      sock._peername = p[3];
      if (p[4]) sock.autoSelectFamilyAttemptedAddresses = p[4];
      sock._unrefTimer();
      sock.emit('connect');
      sock.emit('ready');
      if (!sock.isPaused()) sock.read(0);
      return;
    }
    case K.EMIT: {
      const [, , name, args, unobserved] = p as [number, number, string, unknown[], number];
      if (unobserved) engine.unobserved(() => sock.emit(name, ...args));
      else sock.emit(name, ...args);
      return;
    }
    case K.FAIL:
      st.phase = OPEN;
      if (!sock.destroyed) sock.destroy(p[2] ?? undefined);
      return;
    case K.THROW:
      st.thrown = { error: p[2] };
      return;
    default:
      if (st.tls) st.tls.delivery(st, p);
  }
}

/** Replay: after a request, a synchronous throw that record saw comes next; rethrow it. */
export function rethrowIfRecorded(st: SockState): void {
  if (takeIfNext(st.id, K.THROW) && st.thrown) {
    const { error } = st.thrown;
    st.thrown = null;
    throw error;
  }
}

/** Replay: the connect phase begins (Node created the handle and set `connecting`). */
export function replayConnecting(sock: any, st: SockState, options: any): void {
  if (sock.destroyed) sock._undestroy();
  st.phase = CONNECTING;
  st.open = true;
  sock._peername = null;
  sock._sockname = null;
  sock.connecting = true;
  const host = options.host || 'localhost';
  if (options.path == null && !net.isIP(host)) sock._host = host;
  // Node connects to an IP literal from a nextTick: its connectionAttempt follows there.
  pullLater();
}

let realWriteGeneric: AnyFn;
let realSetTimeout: AnyFn;

// ---- record and replay: the patches ----

export const netBoundary: Boundary = {
  name: 'net',
  install(e: Engine) {
    engine = e;
    replayer = e.replaying ? e : null;
    const Socket = net.Socket;
    const proto = Socket.prototype;
    const connectCh = e.channel('net.connect', Shape.Request);
    const acceptedCh = e.channel('net.accepted', Shape.Request);
    const listenCh = e.channel('net.listen', Shape.Request);
    writeCh = e.channel('net.write', Shape.Call);
    shutdownCh = e.channel('net.shutdown', Shape.Call);
    socknameCh = e.channel('net.sockname', Shape.Call);
    realWriteGeneric = proto._writeGeneric;
    realSetTimeout = proto.setTimeout;
    const clientSocketChannel = dc.channel('net.client.socket');
    const serverSocketChannel = dc.channel('net.server.socket');

    const connect: AnyFn = proto.connect;
    const writeGeneric: AnyFn = proto._writeGeneric;
    const final: AnyFn = proto._final;
    const destroy: AnyFn = proto._destroy;
    const onTimeout: AnyFn = proto._onTimeout;
    const emit: AnyFn = proto.emit;
    const getsockname: AnyFn = proto._getsockname;

    if (e.recording) {
      proto._getsockname = function _getsockname(this: any) {
        const st = states.get(this);
        // Node asks too, when a connect fails synchronously (internalConnect): replay has no such call.
        if (st === undefined || st.phase !== CONNECTING || !this._handle || /\binternalConnect/.test(currentStack(Error.stackTraceLimit))) {
          return getsockname.call(this);
        }
        return engine.call(socknameCh, [st.id], () => getsockname.call(this));
      };

      proto.connect = disguise(function connectRecorded(this: any, ...args: any[]) {
        if (engine.passthrough) return connect.apply(this, args);
        const normalized = normalizeConnectArgs(args);
        const options = normalized[0];
        if (this._parent?.connecting) return connect.call(this, normalized);
        const st = newState(engine.request(connectCh, connectKey(options)), this, true);
        mark();
        states.set(this, st);
        try {
          engine.unobserved(() => connect.call(this, normalized));
        } catch (err) {
          deliver(st.id, K.THROW, err);
          st.phase = OPEN;
          throw err;
        }
        tapHandle(this._handle, st);
        return this;
      }, connect);

      proto.emit = function emitObserved(this: any, ev: unknown) {
        // 'data', 'end', 'drain', 'finish'... come several times per request and are not recorded:
        // they pass with one Set lookup, and no copy of their arguments.
        if (typeof ev === 'string' && NOTED_EMITS.has(ev)) {
          const st = states.get(this);
          if (st !== undefined) noteEmit(st, this, ev, Array.prototype.slice.call(arguments, 1));
        }
        return emit.apply(this, arguments as unknown as unknown[]);
      };

      proto._writeGeneric = function _writeGeneric(this: any, writev: boolean, data: any, encoding: string, cb: AnyFn) {
        const st = states.get(this);
        if (st === undefined || this.connecting || !this._handle) return writeGeneric.call(this, writev, data, encoding, cb);
        const raw = writtenBytes(writev, data, encoding);
        let returned = false;
        let syncResult: unknown = 1;
        const done = (err?: Error | null) => {
          if (!returned) {
            syncResult = err ?? 0;
            return cb(err);
          }
          deliver(st.id, K.WDONE, err ?? null);
          return cb(err);
        };
        const r = redaction();
        const stored = r ? r.socket(st).redactSent(raw) : raw;
        return engine.call(writeCh, [st.id, st.accepted ? maskResponseDate(stored) : stored], () => {
          writeGeneric.call(this, writev, data, encoding, done);
          returned = true;
          return syncResult;
        }) as unknown as undefined;
      };

      proto._final = function _final(this: any, cb: AnyFn) {
        const st = states.get(this);
        if (st === undefined || this.connecting || !this._handle) return final.call(this, cb);
        let returned = false;
        let syncResult: unknown = 1;
        const done = (err?: Error | null) => {
          if (!returned) {
            syncResult = err ?? 0;
            return cb(err);
          }
          deliver(st.id, K.SDONE, err ?? null);
          return cb(err);
        };
        engine.call(shutdownCh, [st.id], () => {
          final.call(this, done);
          returned = true;
          return syncResult;
        });
        return undefined;
      };

      proto._destroy = function _destroy(this: any, exception: Error | null, cb: AnyFn) {
        const st = states.get(this);
        if (st !== undefined && st.phase === CONNECTING) {
          // Node's own connect failures (afterConnect already cleared `connecting`) and the
          // program's destroy() while connecting alike.
          st.phase = OPEN;
          deliver(st.id, K.FAIL, exception ?? null);
        }
        return destroy.call(this, exception, cb);
      };

      proto._onTimeout = function _onTimeout(this: any) {
        const st = states.get(this);
        if (st === undefined) return onTimeout.call(this);
        st.inTimeout = true;
        try {
          return onTimeout.call(this);
        } finally {
          st.inTimeout = false;
        }
      };
    } else {
      proto.connect = disguise(function connectReplayed(this: any, ...args: any[]) {
        if (engine.passthrough) return connect.apply(this, args);
        const normalized = normalizeConnectArgs(args);
        const [options, cb] = normalized;
        if (this._parent?.connecting) return connect.call(this, normalized);
        const st = newState(engine.request(connectCh, connectKey(options)), this, true);
        expectOwn(st.id, (p) => socketDelivery(st, p));
        rethrowIfRecorded(st);
        if (clientSocketChannel.hasSubscribers) engine.unobserved(() => clientSocketChannel.publish({ socket: this }));
        if (cb !== null && cb !== undefined) this.once('connect', cb);
        if (this.write !== proto.write) this.write = proto.write;
        makeStandIn(this, st);
        replayConnecting(this, st, options);
        return this;
      }, connect);
      // Socket timeouts come from the recording; a real timer made before the socket became a
      // stand-in must not fire into it.
      proto._onTimeout = function _onTimeout(this: any) {
        if (states.has(this)) return undefined;
        return onTimeout.call(this);
      };
    }

    installServer(e, listenCh, acceptedCh, serverSocketChannel);
  },
};

// ---- servers ----

interface ServerState {
  id: number;
  errorPending: boolean;
}
const serverStates = new WeakMap<object, ServerState>();

function installServer(e: Engine, listenCh: number, acceptedCh: number, serverSocketChannel: import('node:diagnostics_channel').Channel): void {
  const Server = net.Server;
  const proto = Server.prototype;
  const listen2: AnyFn = proto._listen2;
  const emit: AnyFn = proto.emit;

  if (e.recording) {
    proto._listen2 = function _listen2(this: any, ...args: unknown[]) {
      if (engine.passthrough) return listen2.apply(this, args);
      const id = engine.request(listenCh, args.slice(0, 6));
      mark();
      const sst: ServerState = { id, errorPending: false };
      serverStates.set(this, sst);
      let result: unknown;
      try {
        result = engine.unobserved(() => listen2.apply(this, args));
      } catch (err) {
        deliver(id, K.THROW, err);
        throw err;
      }
      const handle = this._handle;
      if (!handle) {
        deliver(id, K.LISTEN, null);
        sst.errorPending = true; // Node emits the error from a nextTick
        return result;
      }
      deliver(id, K.LISTEN, this.address());
      for (const hook of serverHooks) hook(this);
      const onconnection: AnyFn = handle.onconnection;
      const server = this;
      handle.onconnection = function onconnectionObserved(this: any, err: number, clientHandle: any) {
        if (err) {
          deliver(id, K.AERR, err);
          return onconnection.call(this, err, clientHandle);
        }
        const remote = addressOf(clientHandle.getpeername, clientHandle);
        const local = addressOf(clientHandle.getsockname, clientHandle);
        deliver(id, K.ACCEPT, remote, local);
        if (!dropped(server, remote)) {
          const st = newState(engine.request(acceptedCh, [id]), null, false);
          mark();
          st.accepted = true;
          // HTTP servers then parse from 'data' events in both modes, rather than inside C++.
          clientHandle._consumed = true;
          tapHandle(clientHandle, st);
        }
        return onconnection.call(this, err, clientHandle);
      };
      return result;
    };

    proto.emit = function emitObserved(this: any, ev: unknown, err: unknown) {
      if (ev === 'error') {
        const sst = serverStates.get(this);
        if (sst?.errorPending) {
          sst.errorPending = false;
          deliver(sst.id, K.LERR, err);
        }
      }
      return emit.apply(this, arguments as unknown as unknown[]);
    };
    return;
  }

  proto._listen2 = function _listen2(this: any, ...args: unknown[]) {
    if (engine.passthrough) return listen2.apply(this, args);
    const server = this;
    const id = engine.request(listenCh, args.slice(0, 6));
    let outcome: { address: unknown } | null = null;
    const st = newState(id, null, false);
    expectOwn(id, (p) => {
      switch (p[0]) {
        case K.THROW:
          st.thrown = { error: p[2] };
          return;
        case K.LISTEN:
          outcome = { address: p[2] };
          return;
        case K.LERR:
          server.emit('error', p[2]);
          return;
        case K.ACCEPT:
          return acceptReplayed(server, id, p[2] as any, p[3] as object, acceptedCh, serverSocketChannel);
        case K.AERR:
          server.emit('error', errnoError(p[2] as number, 'accept'));
          return;
      }
    });
    rethrowIfRecorded(st);
    takeIfNext(id, K.LISTEN);
    const recorded = (outcome as { address: unknown } | null)?.address;
    if (recorded === null || recorded === undefined) {
      pullLater(); // the listen error follows from a nextTick
      return undefined;
    }
    this._handle = fakeListenHandle(recorded);
    const result = listen2.apply(this, args);
    for (const hook of serverHooks) hook(server);
    return result;
  };
}

/**
 * Other modules adjust a server once it listens, in both modes (tls.ts replaces the TLS connection
 * listener in replay; http.ts finds the HTTP server's connection list).
 */
export const serverHooks: ((server: any) => void)[] = [];

/** Replay: the stand-ins by request id, while they are open. */
const socketsById = new Map<number, WeakRef<object>>();
export function socketById(id: number): any {
  return socketsById.get(id)?.deref();
}

function dropped(server: any, remote: any): boolean {
  if (server.maxConnections != null && server._connections >= server.maxConnections) return true;
  const type = remote?.address ? net.isIP(remote.address) : 0;
  return !!(server.blockList && type && server.blockList.check(remote.address, `ipv${type}`));
}

/** Replay: a listening handle that binds nothing. Node's setupListenHandle uses it as it finds it. */
function fakeListenHandle(address: unknown): object {
  const handle: Record<string, unknown> = {
    listen: () => 0,
    close: (cb?: () => void) => {
      if (typeof cb === 'function') process.nextTick(cb);
    },
    ref: () => {},
    unref: () => {},
    hasRef: () => false,
  };
  if (address !== null && typeof address === 'object') {
    handle.getsockname = (out: object) => {
      Object.assign(out, address);
      return 0;
    };
  }
  return handle;
}

/** Replay: Node's onconnection, with a stand-in for the accepted socket. */
function acceptReplayed(server: any, listenId: number, remote: any, local: object, acceptedCh: number, serverSocketChannel: import('node:diagnostics_channel').Channel): void {
  if (server.maxConnections != null && server._connections >= server.maxConnections) {
    server.emit('drop', {
      localAddress: (local as any).address, localPort: (local as any).port, localFamily: (local as any).family,
      remoteAddress: remote?.address, remotePort: remote?.port, remoteFamily: remote?.family,
    });
    return;
  }
  if (dropped(server, remote)) return;
  const st = newState(engine.request(acceptedCh, [listenId]), null, false);
  st.accepted = true;
  const socket = new net.Socket({
    allowHalfOpen: server.allowHalfOpen,
    pauseOnCreate: server.pauseOnConnect,
    readable: true,
    writable: true,
    readableHighWaterMark: server.highWaterMark,
    writableHighWaterMark: server.highWaterMark,
  });
  makeStandIn(socket, st);
  st.local = local;
  socket._peername = remote;
  expectOwn(st.id, (p) => socketDelivery(st, p));
  if (server.pauseOnConnect) socket.readableFlowing = false;
  else socket.read(0);
  server._connections++;
  socket.server = server;
  socket._server = server;
  server.emit('connection', socket);
  if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
}

/** Record: a TLS socket (tls.ts) is tracked as it is built. */
export function trackRecorded(sock: any, id: number, ownConnect: boolean): SockState {
  const st = newState(id, sock, ownConnect);
  states.set(sock, st);
  return st;
}

export { tapHandle, newState };
