// dgram: UDP sockets (node:dgram).
//
// Intercepted at the socket's handle (lib/dgram.js, lib/internal/dgram.js). Every dgram.Socket
// is published on the `udp.socket` diagnostics channel at the end of its constructor, with its
// UDP handle in the socket's state; from then on dgram.js does everything through that handle:
// bind, connect, send, getsockname, socket options, and C++ enters JavaScript through the
// handle's `onmessage` / `onerror` and a send request's `oncomplete`. So:
// - record taps the real handle: its methods become recorded calls (`dgram.bind`, `dgram.send`
//   with the datagram's bytes and destination, `dgram.address`...), and what C++ hands to
//   `onmessage`, `onerror` and a send's `oncomplete` is delivered to the socket's request
//   (`dgram.socket`) before Node's own function runs;
// - replay closes the real handle (it was never bound) and puts a stand-in handle in its place
//   that answers the same calls from the recording and runs Node's `onmessage`, `onerror` and
//   `oncomplete` with the recorded arguments in their recorded turns. Node's dgram.js itself runs
//   unchanged on it: argument checks, the send queue while binding, 'listening', 'connect',
//   'close', errors built from recorded error numbers (ExceptionWithHostPort, ErrnoException).
// No UDP socket is opened in replay. Name lookups (bind, connect or send to a host name) go
// through dns.lookup in both modes and are recorded by the dns boundary; IP literals are answered
// by Node on nextTick.
//
// A datagram the program sends differently in replay is a divergence that says how it differs.
// dgram.js sends from a nextTick or a lookup callback, where the stack no longer shows the
// program, so replay notes where the program called send/connect/bind (an AsyncLocalStorage that
// follows that call's continuations) to name its line.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { describeCall } from '../core/describe.js';
import { real } from '../core/originals.js';
import { programLocation } from '../core/source-location.js';
import { encodeValue } from '../core/trace/codec.js';
import { Shape } from '../core/trace/format.js';
import { builtin, disguise } from './wrap.js';
import { currentStack } from '../core/own-stack.js';

type AnyFn = (this: any, ...args: any[]) => any;

const dc = builtin<typeof import('node:diagnostics_channel')>('node:diagnostics_channel');

/** Delivery kinds: the first element of every payload to a socket's request. */
const K = { MESSAGE: 0, ERROR: 1, SENT: 2 } as const;

interface UdpState {
  id: number;
  socket: any;
  /** handle.send calls so far: a send's completion is delivered with its number. */
  sends: number;
  /** Replay: sends that complete later, by number. */
  pendingSends: Map<number, any>;
}

let engine: Engine;
/** The engine while replaying (null while recording): what the recording holds next. */
let replayer: Engine | null = null;

/** A handle method that is a recorded call: its key, and how the live call's result is recorded and handed back. */
interface Op {
  channel: string;
  key(st: UdpState, args: unknown[]): unknown;
  /** Record: the live call, as a recordable result (default: what the method returned). */
  live?(original: AnyFn, handle: any, args: unknown[]): unknown;
  /** Both modes: the method's return value from the recorded result (default: the result). */
  give?(result: any, args: unknown[]): unknown;
}

/** Methods with an `out` object for their answer: recorded as [returned, out]. */
const withOut = (channel: string): Op => ({
  channel,
  key: (st) => [st.id],
  live: (original, handle) => {
    const out = {};
    const err = original.call(handle, out);
    return [err, out];
  },
  give: ([err, out]: [number, object], [target]) => {
    Object.assign(target as object, out);
    return err;
  },
});

const option = (name: string): Op => ({ channel: 'dgram.option', key: (st, args) => [st.id, name, ...args] });

const OPS: Record<string, Op> = {
  bind: { channel: 'dgram.bind', key: (st, [ip, port, flags]) => [st.id, ip, port, flags] },
  connect: { channel: 'dgram.connect', key: (st, [ip, port]) => [st.id, ip, port] },
  disconnect: { channel: 'dgram.disconnect', key: (st) => [st.id] },
  open: { channel: 'dgram.open', key: (st, [fd]) => [st.id, fd] },
  getsockname: withOut('dgram.address'),
  getpeername: withOut('dgram.remoteAddress'),
  setBroadcast: option('setBroadcast'),
  setTTL: option('setTTL'),
  setMulticastTTL: option('setMulticastTTL'),
  setMulticastLoopback: option('setMulticastLoopback'),
  setMulticastInterface: option('setMulticastInterface'),
  addMembership: option('addMembership'),
  dropMembership: option('dropMembership'),
  addSourceSpecificMembership: option('addSourceSpecificMembership'),
  dropSourceSpecificMembership: option('dropSourceSpecificMembership'),
  bufferSize: {
    channel: 'dgram.bufferSize',
    key: (st, [size, recv]) => [st.id, size, recv ? 'recv' : 'send'],
    live: (original, handle, [size, recv]) => {
      const ctx = {};
      const result = original.call(handle, size, recv, ctx);
      return [result, ctx];
    },
    give: ([result, ctx]: [unknown, object], args) => {
      Object.assign(args[2] as object, ctx);
      return result;
    },
  },
  getSendQueueSize: { channel: 'dgram.sendQueue', key: (st) => [st.id, 'size'] },
  getSendQueueCount: { channel: 'dgram.sendQueue', key: (st) => [st.id, 'count'] },
};

const channels = new Map<string, number>();
let socketCh = 0;
let sendCh = 0;

/** send(req, list, count, port, ip, hasCallback) when not connected, send(req, list, count, hasCallback) when connected. */
function sendKey(st: UdpState, args: unknown[]): unknown[] {
  const list = args[1] as Buffer[];
  const bytes = list.length === 1 ? list[0]! : Buffer.concat(list);
  const addressed = args.length >= 6;
  return [st.id, bytes, addressed ? args[3] : null, addressed ? args[4] : null];
}

// ---- record ----

/** Record: the real handle's methods become recorded calls; its callbacks deliver first. */
function tapHandle(handle: any, st: UdpState): void {
  for (const [name, op] of Object.entries(OPS)) {
    const original: AnyFn | undefined = handle[name];
    if (typeof original !== 'function') continue;
    const ch = channels.get(op.channel)!;
    // Called on `this`: a cluster worker's dgram copies bind/send onto the handle it gets from the primary.
    handle[name] = disguise(function (this: any, ...args: unknown[]) {
      const live = op.live ? () => op.live!(original, this, args) : () => original.apply(this, args);
      const result = engine.call(ch, op.key(st, args), live);
      return op.give ? op.give(result, args) : result;
    }, original);
  }
  const send: AnyFn = handle.send;
  handle.send = disguise(function (this: any, ...args: any[]) {
    const req = args[0];
    const number = st.sends++;
    const oncomplete: AnyFn | undefined = req?.oncomplete;
    if (typeof oncomplete === 'function') {
      req.oncomplete = function oncompleteRecorded(this: unknown, err: number, sent: number) {
        engine.deliver(st.id, [K.SENT, number, err, sent]);
        return oncomplete.call(this, err, sent);
      };
    }
    return engine.call(sendCh, sendKey(st, args), () => send.apply(this, args));
  }, send);
  // C++ reads these by name when a datagram or an error arrives; dgram.js assigns them in startReceiving.
  tapCallback(handle, 'onmessage', (fn) =>
    function onmessageRecorded(this: unknown, nread: number, h: unknown, buf?: Buffer, rinfo?: object) {
      engine.deliver(st.id, [K.MESSAGE, nread, buf ?? null, rinfo ?? null]);
      return fn.call(this, nread, h, buf, rinfo);
    },
  );
  tapCallback(handle, 'onerror', (fn) =>
    function onerrorRecorded(this: unknown, nread: number, h: unknown, error: unknown) {
      engine.deliver(st.id, [K.ERROR, nread, error]);
      return fn.call(this, nread, h, error);
    },
  );
}

function tapCallback(handle: any, name: string, wrap: (fn: AnyFn) => AnyFn): void {
  let current: unknown = handle[name];
  if (typeof current === 'function') current = wrap(current as AnyFn);
  Object.defineProperty(handle, name, {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (fn: unknown) => {
      current = typeof fn === 'function' ? wrap(fn as AnyFn) : fn;
    },
  });
}

// ---- replay ----

/** Replay: a handle that binds and sends nothing, answering from the recording. */
function standInHandle(realHandle: any, socket: any, st: UdpState, ownerSymbol: symbol | undefined): any {
  let refed = true;
  const asyncId: number = realHandle.getAsyncId();
  const handle: any = {
    // dgram.js resolves names through it: dns.lookup, replayed by the dns boundary.
    lookup: realHandle.lookup,
    fd: -1,
    recvStart: () => 0,
    recvStop: () => 0,
    close: (cb?: () => void) => {
      if (typeof cb === 'function') process.nextTick(cb);
    },
    ref: () => {
      refed = true;
    },
    unref: () => {
      refed = false;
    },
    hasRef: () => refed,
    getAsyncId: () => asyncId,
    send(...args: any[]) {
      const req = args[0];
      const number = st.sends++;
      const result = replayCall('dgram.send', sendCh, sendKey(st, args)) as number;
      if (result === 0 && typeof req?.oncomplete === 'function') st.pendingSends.set(number, req);
      return result;
    },
  };
  for (const [name, op] of Object.entries(OPS)) {
    if (typeof realHandle[name] !== 'function') continue;
    const ch = channels.get(op.channel)!;
    handle[name] = function (...args: unknown[]) {
      const result = replayCall(op.channel, ch, op.key(st, args));
      return op.give ? op.give(result, args) : result;
    };
  }
  if (ownerSymbol) handle[ownerSymbol] = socket;
  Object.defineProperty(handle, 'owner', { get: () => socket, configurable: true });
  return handle;
}

function deliveryReplayed(st: UdpState, handle: any, p: unknown[]): void {
  switch (p[0]) {
    case K.MESSAGE: {
      const fn = handle.onmessage;
      if (typeof fn === 'function') fn.call(handle, p[1], handle, p[2] ?? undefined, p[3] ?? undefined);
      return;
    }
    case K.ERROR: {
      const fn = handle.onerror;
      if (typeof fn === 'function') fn.call(handle, p[1], handle, p[2]);
      return;
    }
    case K.SENT: {
      const req = st.pendingSends.get(p[1] as number);
      st.pendingSends.delete(p[1] as number);
      if (req && typeof req.oncomplete === 'function') req.oncomplete.call(req, p[2], p[3]);
      return;
    }
  }
}

/** Where the program called send/connect/bind, for the continuations that reach the handle. */
interface Origin {
  at: { stack?: string };
  /** A queued send that dgram.js calls again once bound: the re-entry keeps this origin. */
  reentry: boolean;
}
const origins = new AsyncLocalStorage<Origin>();

function originLocation(): string | null {
  const origin = origins.getStore();
  return origin ? programLocation(origin.at.stack, real.processCwd()) : null;
}

/**
 * Replay: a handle call checked against the recording. A mismatch made where the stack no longer
 * shows the program is reported with the line where the program started the operation.
 */
function replayCall(name: string, ch: number, key: unknown): unknown {
  const ev = replayer?.peek();
  if (ev && !(ev.kind === 'call' && ev.channel.name === name && encodeValue(ev.args).equals(encodeValue(key)))) {
    const what =
      ev.kind === 'call' && ev.channel.name === 'dgram.send' && name === 'dgram.send'
        ? describeSendDifference(ev.index, ev.args as unknown[], key as unknown[])
        : `event ${ev.index}: the recording has ${replayer!.describeEvent(ev)}`;
    const at = locationHere() ?? originLocation();
    // The report names the line itself: the engine's own look at the (shallow) stack finds nothing better.
    Error.stackTraceLimit = 0;
    engine.diverge(what, `${describeCall(name, key)}${at ? `\nretrace:   at ${at}` : ''}`);
  }
  return engine.call(ch, key, () => undefined);
}

/** The program's line on the current stack, which runs deep through dgram.js and this module. */
function locationHere(): string | null {
  const stack = currentStack(50);
  return programLocation(stack, real.processCwd());
}

function describeSendDifference(index: number, recorded: unknown[], now: unknown[]): string {
  const [rid, rbytes, rport, rip] = recorded as [number, Buffer, number | null, string | null];
  const [id, bytes, port, ip] = now as [number, Buffer, number | null, string | null];
  const to = (p: number | null, a: string | null) => (p === null ? 'its connected peer' : `${a}:${p}`);
  if (rid !== id) return `event ${index}: the recording has a datagram sent by UDP socket ${rid}, but the program sent ${bytes.length} bytes from UDP socket ${id}`;
  if (rport !== port || rip !== ip) return `event ${index}: UDP socket ${id} sent a datagram to ${to(port, ip)}; the recording sent it to ${to(rport, rip)}`;
  let at = 0;
  while (at < rbytes.length && at < bytes.length && rbytes[at] === bytes[at]) at++;
  const show = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, at - 24), at + 40).toString('latin1'));
  return (
    `event ${index}: UDP socket ${id} sent a different datagram to ${to(port, ip)} than recorded: ` +
    `${rbytes.length} bytes recorded, ${bytes.length} now, first difference at byte ${at}\n` +
    `retrace:   recorded ${show(rbytes)}\nretrace:   now      ${show(bytes)}`
  );
}

let stateSymbol: symbol | undefined;
let ownerSymbolOfHandles: symbol | undefined;
const symbolNamed = (obj: object, description: string) => Object.getOwnPropertySymbols(obj).find((s) => s.description === description);

/** Replay: send, connect and bind note where the program called them (see Origin). */
function noteOrigins(proto: any): void {
  const wrapMethod = (name: string, queuedReenters: boolean) => {
    const original: AnyFn = proto[name];
    if (typeof original !== 'function') return;
    proto[name] = disguise(function (this: any, ...args: unknown[]) {
      const current = origins.getStore();
      if (current?.reentry) {
        current.reentry = false;
        return original.apply(this, args);
      }
      const at: { stack?: string } = {};
      Error.captureStackTrace(at);
      const state = stateSymbol ? this[stateSymbol] : undefined;
      const queue: unknown[] | undefined = state?.queue;
      const queued = queue?.length ?? 0;
      return origins.run({ at, reentry: false }, () => {
        const result = original.apply(this, args);
        // Sent or connected before the socket was bound: dgram.js queued it for 'listening'.
        const now: AnyFn[] | undefined = state?.queue;
        if (now) {
          for (let i = now === queue ? queued : 0; i < now.length; i++) {
            const entry = now[i]!;
            now[i] = () => origins.run({ at, reentry: queuedReenters }, entry);
          }
        }
        return result;
      });
    }, original);
  };
  wrapMethod('send', true);
  wrapMethod('connect', false);
  wrapMethod('bind', false);
}

export const dgramBoundary: Boundary = {
  name: 'dgram',
  install(e: Engine) {
    engine = e;
    replayer = e.replaying ? e : null;
    socketCh = e.channel('dgram.socket', Shape.Request);
    sendCh = e.channel('dgram.send', Shape.Call);
    for (const op of Object.values(OPS)) if (!channels.has(op.channel)) channels.set(op.channel, e.channel(op.channel, Shape.Call));
    let prototypePatched = false;

    // Published at the end of the constructor; node:dgram itself loads only when the program asks.
    dc.subscribe('udp.socket', (message) => {
      const socket = (message as { socket: any }).socket;
      if (engine.passthrough) return; // a socket of preloaded tooling or of Node's internals
      stateSymbol ??= symbolNamed(socket, 'state symbol');
      const state = stateSymbol ? socket[stateSymbol] : undefined;
      const handle = state?.handle;
      if (!handle) return; // closed in its constructor by an aborted signal
      ownerSymbolOfHandles ??= symbolNamed(handle, 'owner_symbol');
      const st: UdpState = { id: engine.request(socketCh, [socket.type]), socket, sends: 0, pendingSends: new Map() };
      if (engine.recording) {
        tapHandle(handle, st);
        return;
      }
      if (!prototypePatched) {
        prototypePatched = true;
        noteOrigins(builtin('node:dgram').Socket.prototype);
      }
      const standIn = standInHandle(handle, socket, st, ownerSymbolOfHandles);
      state.handle = standIn;
      // Never bound, so it has no socket; unref'd, it stops counting as an active resource at once.
      handle.unref();
      handle.close();
      engine.expect(st.id, (payload) => deliveryReplayed(st, standIn, payload as unknown[]), true);
    });
  },
};
