// fs: the program's own file I/O. The sync, callback and promise APIs of node:fs, FileHandle and
// Dir objects, file streams, watchers and fs.openAsBlob.
//
// Record: each call runs live and is written down with the arguments that matter (paths, flags,
// modes, the bytes written, fds, positions) and its result or error. Replay: nothing touches the
// disk; results come from the recording, and Stats, Dirents, FileHandles and Dirs are rebuilt as
// objects that behave like Node's.
//
// Two ways Node's own code reaches the patched exports object matter here (lib/fs.js,
// lib/internal/fs/*.js):
// - Composite APIs call other public functions, also later from their own callbacks and promise
//   continuations: writeFile/appendFile/truncate go through fs.open/fs.write/fs.close, rm through
//   rimraf, cp through fs/promises. Only the program's call is recorded: the real call runs in an
//   AsyncLocalStorage context that marks everything it does, now and later, as internal, so replay
//   (which never runs it) sees the same.
// - fs.ReadStream / fs.WriteStream (and fs.Utf8Stream) call `fs.open/read/write/writev/close` on
//   the exports object from the event loop, and glob walks the tree with lstat/readdir. Those
//   calls are recorded one by one, and replay runs Node's real stream and glob code against the
//   replayed calls: they need no code of their own. fs.exists is rebuilt here on fs.access.
//
// The program's stdio is its own: writes (and close/fsync) on fds 0-2, and writeFile/appendFile to
// /dev/stdout or /dev/stderr, run live in both modes and are not recorded (the callback and
// promise forms record only their turn, without data). Callback reads of fd 0 belong to
// process.stdin's stream (a fs.ReadStream when stdin is a file) and so to the stdin boundary.
//
// Module loading is not the program's I/O: the CommonJS loader is unobserved (modules boundary);
// the loaders' other calls (realpathSync with their cache option, the ES module loader's
// readFileSync(URL)) are recognised here and run live.
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import * as pathModule from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';
import { redaction } from '../redaction/index.js';
import { builtin, disguise, lastFunctionIndex, patch, unobservedCallback } from './wrap.js';
import { currentCallSites } from '../core/own-stack.js';

type AnyFn = (this: any, ...args: any[]) => any;
type Args = unknown[];
/** The arguments that matter, as an encodable value; `self` is the object for methods (FileHandle, Dir). */
type KeyOf = (args: Args, self: any) => unknown;
/** Whether a call runs live instead: unrecorded ('passthrough'), or live with its turn recorded ('sequenced'). */
type LiveMode = 'passthrough' | 'sequenced' | undefined;
type LiveOf = (args: Args) => LiveMode;
/**
 * Calls that Node may complete within the current turn (a nextTick or a microtask: a Dir's buffered
 * entries, closing what is closed), where the sequencer's next turn would be too late. Either replay
 * knows it from the call (`known`), or record notes, per delivery, whether it came in the request's
 * turn (`noted`: the result's encode/record get the flag and put it where `noted` finds it).
 */
type InTurn = { known: (args: Args, self: any) => boolean } | { noted: (payload: any) => boolean };

const fs = builtin<typeof import('node:fs')>('node:fs');
const fsp = builtin<typeof import('node:fs/promises')>('node:fs/promises');

/** Records a synchronous throw by an async API (Node rejected its arguments) right after the request. */
const SYNC_THROW = 'fs.syncThrow';
/** What Node allocates when fs.read / FileHandle#read get no buffer. */
const DEFAULT_READ_SIZE = 16384;

// ---- results: how a value crosses the boundary ----

/** How one result crosses the boundary. Plain values (strings, Buffers, numbers) need nothing. */
interface Result {
  /** Record: the encodable form of the live result (inTurn: see InTurn). */
  encode?(live: any, args: Args, inTurn?: boolean): unknown;
  /** Record: the live result as the program receives it (a handle with observed methods). */
  observe?(live: any, args: Args): unknown;
  /** Replay: the recorded form turned back into what the program expects. */
  revive?(recorded: any, args: Args): unknown;
}

/** How a callback's arguments cross the boundary. */
interface CallbackResult {
  record(cbArgs: Args, args: Args, inTurn?: boolean): unknown;
  observe?(cbArgs: Args, args: Args): void;
  replay(payload: any, args: Args): Args;
}

const AS_IS: Result = {};

/** A file read whole: stored redacted when the rules call it secret (.env, keys; redaction/). */
const SECRET_FILE: Result = {
  encode: (contents, args) => redaction()?.fileContents(args[0], contents) ?? contents,
};

/** The usual Node callback, (err, result), with the result crossing as `result` says. */
function errAndResult(result: Result = AS_IS): CallbackResult {
  const { encode, observe, revive } = result;
  const ok = (cbArgs: Args) => cbArgs.length > 1 && cbArgs[0] == null;
  return {
    record: (cbArgs, args) => (encode && ok(cbArgs) ? [cbArgs[0], encode(cbArgs[1], args)] : cbArgs),
    observe: observe
      ? (cbArgs, args) => {
          if (ok(cbArgs)) cbArgs[1] = observe(cbArgs[1], args);
        }
      : undefined,
    replay: (payload: Args, args) => (revive && ok(payload) ? [payload[0], revive(payload[1], args)] : payload),
  };
}

/** Own data fields: a date that a getter made lazily is an own property once read, and is left out. */
function fields(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!(v instanceof Date)) out[k] = v;
  return out;
}

/**
 * Node's BigIntStats is not exported. This one has its name (util.inspect prints it), Node's
 * StatsBase prototype (isFile() & co.), a BigInt mode check, and Stats' own lazy date getters
 * (they coerce the BigInt milliseconds with Number(), as BigIntStats' do).
 */
class BigIntStats {}
Object.setPrototypeOf(BigIntStats.prototype, Object.getPrototypeOf(fs.Stats.prototype));
Object.defineProperty(BigIntStats.prototype, '_checkModeProperty', {
  value(this: { mode: bigint }, property: number) {
    return (this.mode & BigInt(fs.constants.S_IFMT)) === BigInt(property);
  },
  writable: true,
  configurable: true,
});
for (const name of ['atime', 'mtime', 'ctime', 'birthtime']) {
  const getter = Object.getOwnPropertyDescriptor(fs.Stats.prototype, name);
  if (getter) Object.defineProperty(BigIntStats.prototype, name, getter);
}

/** Node's StatFs is not exported either; its prototype holds nothing but the constructor. */
class StatFs {}

/** Stats and BigIntStats (undefined with throwIfNoEntry: false): their fields; dates are getters. */
/**
 * Node fills Stats from a Float64Array, so its numbers are V8 heap numbers even when whole, and
 * v8.serialize writes them as doubles: jest's haste map holds `stat.size`, and its bytes must be
 * the same in replay. Decoded whole numbers are small integers; this gives them Node's representation.
 */
const asDouble = new Float64Array(1);
function withNodeNumbers(r: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(r)) {
    const v = r[key];
    if (typeof v === 'number') {
      asDouble[0] = v;
      r[key] = asDouble[0];
    }
  }
  return r;
}

const STATS: Result = {
  encode: (s) => (s == null ? s : fields(s)),
  revive: (r) => (r == null ? r : Object.assign(Object.create(typeof r.dev === 'bigint' ? BigIntStats.prototype : fs.Stats.prototype), withNodeNumbers(r))),
};

const STATFS: Result = {
  encode: (s) => (s == null ? s : fields(s)),
  revive: (r) => (r == null ? r : Object.assign(Object.create(StatFs.prototype), withNodeNumbers(r))),
};

const UV = fs.constants as unknown as Record<string, number>;
const DIRENT_TYPES: [keyof import('node:fs').Dirent, string][] = [
  ['isFile', 'UV_DIRENT_FILE'],
  ['isDirectory', 'UV_DIRENT_DIR'],
  ['isSymbolicLink', 'UV_DIRENT_LINK'],
  ['isFIFO', 'UV_DIRENT_FIFO'],
  ['isSocket', 'UV_DIRENT_SOCKET'],
  ['isCharacterDevice', 'UV_DIRENT_CHAR'],
  ['isBlockDevice', 'UV_DIRENT_BLOCK'],
];

function direntType(d: import('node:fs').Dirent): number {
  for (const [method, constant] of DIRENT_TYPES) if ((d[method] as () => boolean)()) return UV[constant]!;
  return UV.UV_DIRENT_UNKNOWN ?? 0;
}

const DirentClass = fs.Dirent as unknown as new (name: unknown, type: number, parentPath: unknown) => import('node:fs').Dirent;

/** A Dirent crosses as [name, type, parentPath]; anything else (a name, null) as it is. */
const DIRENT: Result = {
  encode: (d) => (d instanceof fs.Dirent ? [d.name, direntType(d), (d as { parentPath?: unknown }).parentPath] : d),
  revive: (r) => (Array.isArray(r) ? new DirentClass(r[0], r[1] as number, r[2]) : r),
};

/** readdir results: names (strings or Buffers) or Dirents. */
const LISTING: Result = {
  encode: (list) => (Array.isArray(list) ? list.map((d) => DIRENT.encode!(d, [])) : list),
  revive: (list) => (Array.isArray(list) ? list.map((d) => DIRENT.revive!(d, [])) : list),
};

// ---- arguments: what is compared in replay ----

const clamp = (n: unknown, lo: number, hi: number) => {
  const v = Math.trunc(Number(n));
  return Number.isFinite(v) ? Math.min(Math.max(v, lo), hi) : lo;
};

/** The bytes of a view (a Buffer sharing its memory: values are encoded the moment they are written). */
function viewBytes(view: ArrayBufferView, offset: unknown = 0, length: unknown = view.byteLength): Buffer {
  const start = clamp(offset, 0, view.byteLength);
  const end = clamp(start + clamp(length, 0, view.byteLength), start, view.byteLength);
  return Buffer.from(view.buffer, view.byteOffset + start, end - start);
}

function copyInto(target: ArrayBufferView, offset: unknown, bytes: Uint8Array): void {
  const dst = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  const start = clamp(offset, 0, dst.length);
  dst.set(bytes.subarray(0, dst.length - start), start);
}

/** FileHandles the program holds (observed real ones and replay stand-ins): they cross as their fd. */
const knownHandles = new WeakSet<object>();

/** A stable, encodable form of an argument: plain data kept, class instances reduced to their name. */
function plain(v: unknown, depth = 0): unknown {
  if (typeof v === 'function') return `[function ${v.name || 'anonymous'}]`;
  if (v === null || typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) return viewBytes(v);
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (v instanceof Date) return v;
  if (v instanceof URL) return v.href;
  if (knownHandles.has(v)) return { fileHandle: (v as { fd: number }).fd };
  if (depth > 4) return '[nested]';
  if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1));
  const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
  if (proto !== Object.prototype && proto !== null) return `[object ${proto.constructor?.name ?? 'Object'}]`;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) out[key] = plain((v as Record<string, unknown>)[key], depth + 1);
  return out;
}

// ---- reads into the caller's buffer, writes from it ----

interface ReadTarget {
  /** undefined: Node allocates the buffer. */
  buffer: ArrayBufferView | undefined;
  offset: number;
  length: number;
  position: unknown;
}

type Opts = { buffer?: ArrayBufferView; offset?: number; length?: number; position?: unknown } | null | undefined;

/** fs.readSync(fd, buffer, offset, length, position) and readSync(fd, buffer, options?), as lib/fs.js reads them. */
function syncReadTarget(args: Args): ReadTarget | null {
  const [, buffer, offsetOrOptions, length, position] = args as [unknown, ArrayBufferView, unknown, number, unknown];
  if (!ArrayBuffer.isView(buffer)) return null;
  if (args.length <= 3 || typeof offsetOrOptions === 'object') {
    const { offset = 0, length = buffer.byteLength - offset, position = null } = (offsetOrOptions as Opts) ?? {};
    return { buffer, offset, length, position };
  }
  return { buffer, offset: (offsetOrOptions as number | undefined) ?? 0, length: length | 0, position: position ?? null };
}

/** fs.read(fd, buffer, offset, length, position, cb), read(fd, buffer, options?, cb), read(fd, options?, cb), read(fd, cb). */
function callbackReadTarget(args: Args /* without the callback */): ReadTarget | null {
  const argc = args.length + 1;
  const [, , offsetOrOptions, length, position] = args as [unknown, unknown, unknown, number, unknown];
  let buffer = args[1] as ArrayBufferView | undefined;
  if (argc <= 4) {
    let params: Opts = null;
    if (argc === 4) params = offsetOrOptions as Opts;
    else if (argc === 3) {
      if (!ArrayBuffer.isView(buffer)) {
        params = buffer as Opts;
        buffer = params?.buffer;
      }
    } else buffer = undefined;
    if (buffer !== undefined && !ArrayBuffer.isView(buffer)) return null;
    const size = buffer?.byteLength ?? DEFAULT_READ_SIZE;
    const { offset = 0, length = size - offset, position = null } = params ?? {};
    return { buffer, offset, length, position };
  }
  if (!ArrayBuffer.isView(buffer)) return null;
  return { buffer, offset: (offsetOrOptions as number | null) ?? 0, length: length | 0, position: position ?? null };
}

/** FileHandle#read(buffer, offset, length, position), read(buffer, options?), read(options?). */
function handleReadTarget(args: Args): ReadTarget | null {
  const [first, offsetOrOptions, length, position] = args as [unknown, unknown, number | undefined, unknown];
  if (!ArrayBuffer.isView(first)) {
    if (first != null && typeof first !== 'object') return null;
    const buffer = (first as Opts)?.buffer;
    const size = buffer?.byteLength ?? DEFAULT_READ_SIZE;
    const { offset = 0, length = size - offset, position = null } = (first as Opts) ?? {};
    return { buffer, offset, length, position };
  }
  if (offsetOrOptions !== null && typeof offsetOrOptions === 'object') {
    const { offset = 0, length = first.byteLength - offset, position = null } = offsetOrOptions as Opts & object;
    return { buffer: first, offset, length, position };
  }
  const offset = (offsetOrOptions as number | null | undefined) ?? 0;
  return { buffer: first, offset, length: length ?? first.byteLength - offset, position: position ?? null };
}

const readKey = (t: ReadTarget | null, fd: unknown, args: Args) => (t ? [plain(fd), t.length, plain(t.position)] : args.map((a) => plain(a)));

/**
 * A read's result crosses as [bytesRead, the bytes read, the size of the buffer if Node allocated
 * it]; replay copies the bytes into the caller's buffer (or a new one of that size).
 */
function readForm(t: ReadTarget | null, bytesRead: number, actual: unknown): [number, Buffer | null, number | null] {
  if (!t || !ArrayBuffer.isView(actual)) return [bytesRead, null, null];
  return [bytesRead, viewBytes(actual, t.offset, bytesRead), actual === t.buffer ? null : actual.byteLength];
}

function readInto(t: ReadTarget | null, bytes: Buffer | null, allocated: number | null): ArrayBufferView | undefined {
  const buffer = allocated !== null ? Buffer.alloc(allocated) : t?.buffer;
  if (buffer && bytes) copyInto(buffer, t?.offset ?? 0, bytes);
  return buffer;
}

const views = (list: unknown): ArrayBufferView[] | null => (Array.isArray(list) && list.every((b) => ArrayBuffer.isView(b)) ? list : null);

/** The first n bytes across buffers (readv): what replay scatters back. */
function gather(buffers: ArrayBufferView[], n: number): Buffer {
  const parts: Buffer[] = [];
  let left = n;
  for (const b of buffers) {
    if (left <= 0) break;
    const k = Math.min(b.byteLength, left);
    parts.push(viewBytes(b, 0, k));
    left -= k;
  }
  return Buffer.concat(parts);
}

function scatter(buffers: ArrayBufferView[], bytes: Uint8Array): void {
  let at = 0;
  for (const b of buffers) {
    if (at >= bytes.length) break;
    const n = Math.min(b.byteLength, bytes.length - at);
    copyInto(b, 0, bytes.subarray(at, at + n));
    at += n;
  }
}

/**
 * What a write sends and where: write(fd, buffer, offset?, length?, position?), write(fd, buffer,
 * options?) as the bytes and the position; write(fd, string, position?, encoding?) as given.
 */
function writeKey(fd: unknown, data: unknown, offsetOrOptions: unknown, length: unknown, position: unknown): unknown[] {
  if (!ArrayBuffer.isView(data)) return [plain(fd), plain(data), plain(offsetOrOptions), plain(length)];
  let offset = offsetOrOptions;
  if (offsetOrOptions !== null && typeof offsetOrOptions === 'object') {
    ({ offset = 0, length = data.byteLength - (offset as number), position = null } = offsetOrOptions as Opts & object);
  }
  if (typeof offset !== 'number') offset = 0;
  if (typeof length !== 'number') length = data.byteLength - (offset as number);
  const at = typeof position === 'number' || typeof position === 'bigint' ? position : null;
  return [plain(fd), viewBytes(data, offset, length), at];
}

function writevKey(fd: unknown, buffers: unknown, position: unknown): unknown[] {
  const list = views(buffers);
  return [plain(fd), list ? Buffer.concat(list.map((b) => viewBytes(b))) : plain(buffers), plain(position)];
}

// ---- stdio and module loading: calls that run live ----

const isStdioFd = (fd: unknown) => fd === 0 || fd === 1 || fd === 2;
const STDIO_PATHS = new Set(['/dev/stdout', '/dev/stderr', '/dev/fd/1', '/dev/fd/2']);
/** The program writing to its own stdout/stderr (by fd, or by name for writeFile/appendFile). */
const stdioTarget: LiveOf = ([target]) => (isStdioFd(target) || (typeof target === 'string' && STDIO_PATHS.has(target)) ? 'sequenced' : undefined);
const stdioFd: LiveOf = ([fd]) => (isStdioFd(fd) ? 'sequenced' : undefined);

const ownCode = new URL('..', import.meta.url).href;

/**
 * Whether fs was called by one of Node's module loaders (the ES module loader reads sources with
 * fs.readFileSync(url); Node 22 also reads CommonJS sources imported from ESM that way).
 */
function calledByModuleLoader(): boolean {
  const caller = currentCallSites(8).map((f) => f.getFileName() ?? '').find((file) => !file.startsWith(ownCode));
  return caller?.startsWith('node:internal/modules/') ?? false;
}

/** The module loaders' readFileSync(URL) of a source. */
const moduleSource: LiveOf = ([path]) => (path instanceof URL && calledByModuleLoader() ? 'passthrough' : undefined);
/** Module resolution calls realpathSync(path, { [realpathCacheKey]: cache }); programs never pass symbol keys. */
const resolverRealpath: LiveOf = ([, options]) =>
  options !== null && typeof options === 'object' && Object.getOwnPropertySymbols(options).length > 0 ? 'passthrough' : undefined;

function unreachable(): never {
  throw new Error('retrace internal error: a replayed fs call tried to run live');
}

/** Copies the function's name, length and symbol-keyed properties (util.promisify's custom forms of read/write/exists). */
function finish<F extends AnyFn>(patched: F, original: AnyFn | null, name?: string): F {
  if (!original) {
    if (name) Object.defineProperty(patched, 'name', { value: name, configurable: true });
    return patched;
  }
  disguise(patched, original);
  for (const key of Object.getOwnPropertySymbols(original)) {
    Object.defineProperty(patched, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  return patched;
}

function defineMethod(target: object, name: string | symbol, value: unknown, enumerable = false): void {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable });
}

// ---- the interception shapes ----

class Interceptor {
  /** Set inside a real operation, and inherited by everything it schedules: its calls are Node's, not the program's. */
  private readonly inside = new AsyncLocalStorage<boolean>();
  private readonly channels = new Map<string, number>();

  constructor(readonly engine: Engine) {}

  /** Channels are declared on first use, so a trace only names the functions the program used. */
  channel(name: string, shape: Shape): number {
    let id = this.channels.get(name);
    if (id === undefined) this.channels.set(name, (id = this.engine.channel(name, shape)));
    return id;
  }

  /** True where calls are not the program's own: inside a real fs operation (also later), or where the engine suspends interception. */
  get internal(): boolean {
    return this.engine.passthrough || this.inside.getStore() === true;
  }

  /** Runs a real operation with everything it does, now and in its continuations, unobserved. */
  live<T>(fn: () => T): T {
    return this.inside.run(true, () => this.engine.unobserved(fn));
  }

  /**
   * Runs the program's code (a callback, a listener) as the program's own again, and so what it
   * schedules. Not `inside.exit()`: on Node 22 that disables the storage, and a nested run()
   * re-enables it with the outer store still in place.
   */
  toProgram<T>(fn: () => T): T {
    return this.inside.run(false, () => this.engine.observed(fn));
  }

  /** Runs an internal call's original, keeping what it schedules internal too. */
  passthrough<T>(fn: () => T): T {
    return this.inside.run(true, fn);
  }

  pathKey(p: unknown): unknown {
    const engine = this.engine;
    if (typeof p === 'string') return engine.recordedPath(p);
    if (p instanceof URL) {
      try {
        return engine.recordedPath(fileURLToPath(p));
      } catch {
        return p.href; // not a file: URL; Node rejects it
      }
    }
    if (ArrayBuffer.isView(p)) return engine.recordedPath(viewBytes(p).toString());
    return plain(p);
  }

  /** The key of a call whose first `paths` arguments are paths (or fds), the rest plain values. */
  keyOf(paths: number): KeyOf {
    return (args) => args.map((a, i) => (i < paths ? this.pathKey(a) : plain(a)));
  }

  /** Record: runs an async API's real function; a synchronous throw is recorded after its request. */
  start<T>(name: string, run: () => T): T {
    try {
      return this.live(run);
    } catch (err) {
      this.engine.call(this.channel(SYNC_THROW, Shape.Call), [name], () => {
        throw err;
      });
      throw err;
    }
  }

  /** Replay: throws what the call threw synchronously in the recording, if it did. */
  replayThrow(name: string): void {
    const engine = this.engine;
    if (!engine.replaying) return;
    const next = engine.peek();
    if (next?.kind === 'call' && next.channel.name === SYNC_THROW) engine.call(this.channel(SYNC_THROW, Shape.Call), [name], unreachable);
  }

  /** A synchronous function. `original` is null for replay stand-ins (FileHandle, Dir): they never run anything. */
  sync(name: string, original: AnyFn | null, keyOf: KeyOf, result: Result = AS_IS, liveOf?: LiveOf): AnyFn {
    const ic = this;
    const engine = this.engine;
    return finish(function (this: unknown, ...args: Args) {
      if (original && (ic.internal || liveOf?.(args))) return engine.unobserved(() => original.apply(this, args));
      const ch = ic.channel(name, Shape.Call);
      const key = safeKey(keyOf, args, this);
      if (engine.recording) {
        let out: unknown;
        engine.call(ch, key, () => {
          out = original!.apply(this, args);
          return result.encode ? result.encode(out, args) : out;
        });
        return result.observe ? result.observe(out, args) : out;
      }
      return engine.call(ch, key, unreachable, (recorded) => (result.revive ? result.revive(recorded, args) : recorded));
    }, original, name.slice(name.lastIndexOf('.') + 1));
  }

  /**
   * A Node callback API. The request is written when the program calls; the callback's arguments
   * are delivered when the event loop runs it, and replay runs the callback in the same turn.
   */
  callback(name: string, original: AnyFn | null, keyOf: KeyOf, result: CallbackResult = errAndResult(), liveOf?: LiveOf, inTurn?: InTurn): AnyFn {
    const ic = this;
    const engine = this.engine;
    return finish(function (this: unknown, ...args: Args) {
      const cbIndex = lastFunctionIndex(args);
      if (cbIndex < 0) return ic.withoutCallback(name, original, keyOf, this, args);
      const callback = args[cbIndex] as AnyFn;
      const mode = original ? (ic.internal ? 'internal' : liveOf?.(args.slice(0, cbIndex))) : undefined;
      if (mode === 'internal') {
        args[cbIndex] = unobservedCallback(engine, callback);
        return ic.passthrough(() => original!.apply(this, args));
      }
      if (mode === 'passthrough') return original!.apply(this, args);
      const keyArgs = args.slice(0, cbIndex);
      const reqId = engine.request(ic.channel(name, Shape.Request), safeKey(keyOf, keyArgs, this));
      if (mode === 'sequenced') {
        args[cbIndex] = ic.sequencedCallback(reqId, callback);
        if (engine.replaying) ic.replayThrow(name);
        return ic.start(name, () => original!.apply(this, args));
      }
      if (engine.recording) {
        const turn = { over: false };
        args[cbIndex] = function (this: unknown, ...cbArgs: Args) {
          engine.deliver(reqId, result.record(cbArgs, keyArgs, !turn.over));
          result.observe?.(cbArgs, keyArgs);
          return ic.toProgram(() => callback.apply(this, cbArgs));
        };
        const out = ic.start(name, () => original!.apply(this, args));
        // Node calls back within the turn with process.nextTick, queued ahead of this one.
        if (inTurn && 'noted' in inTurn) process.nextTick(() => (turn.over = true));
        return out;
      }
      ic.replayThrow(name);
      engine.expect(reqId, (payload) => {
        const cbArgs = result.replay(payload, keyArgs);
        ic.toProgram(() => callback.apply(undefined, cbArgs));
      });
      if (inTurn) ic.deliverInTurn(reqId, inTurn, keyArgs, this, process.nextTick);
      return undefined;
    }, original, name.slice(name.lastIndexOf('.') + 1));
  }

  /**
   * A callback API called without a callback: Node rejects that before doing anything for almost
   * every function, but not all (fs.rm validates after its first lstat). So it is a request like
   * any other, with its synchronous throw recorded, and replay never runs it.
   */
  withoutCallback(name: string, original: AnyFn | null, keyOf: KeyOf, self: unknown, args: Args): unknown {
    const engine = this.engine;
    if (!original) throw Object.assign(new TypeError('The "callback" argument must be of type function'), { code: 'ERR_INVALID_ARG_TYPE' });
    if (this.internal) return this.passthrough(() => original.apply(self, args));
    engine.request(this.channel(name, Shape.Request), safeKey(keyOf, args, self));
    if (engine.recording) return this.start(name, () => original.apply(self, args));
    this.replayThrow(name);
    return undefined;
  }

  /** A promise API: the settlement is delivered in its recorded turn. Payload: [ok, value]. */
  promise(name: string, original: AnyFn | null, keyOf: KeyOf, result: Result = AS_IS, liveOf?: LiveOf, inTurn?: InTurn): AnyFn {
    const ic = this;
    const engine = this.engine;
    return finish(function (this: unknown, ...args: Args) {
      const mode = original ? (ic.internal ? 'internal' : liveOf?.(args)) : undefined;
      if (mode === 'internal') return ic.passthrough(() => original!.apply(this, args));
      if (mode === 'passthrough') return original!.apply(this, args);
      const reqId = engine.request(ic.channel(name, Shape.Request), safeKey(keyOf, args, this));
      if (mode === 'sequenced') {
        if (engine.replaying) ic.replayThrow(name);
        const live = ic.start(name, () => original!.apply(this, args)) as Promise<unknown>;
        return new Promise((resolve, reject) => {
          const settle = ic.sequencedCallback(reqId, (ok: boolean, value: unknown) => (ok ? resolve(value) : reject(value)));
          Promise.resolve(live).then((v) => settle(true, v), (e: unknown) => settle(false, e));
        });
      }
      if (engine.recording) {
        const live = ic.start(name, () => original!.apply(this, args)) as Promise<unknown>;
        const turn = { over: false };
        const settled = Promise.resolve(live).then(
          (v) => {
            engine.deliver(reqId, [true, result.encode ? result.encode(v, args, !turn.over) : v]);
            return result.observe ? result.observe(v, args) : v;
          },
          (err: unknown) => {
            engine.deliver(reqId, [false, err]);
            throw err;
          },
        );
        // A promise Node settled within the call has its reaction queued ahead of this microtask.
        if (inTurn && 'noted' in inTurn) queueMicrotask(() => (turn.over = true));
        return settled;
      }
      ic.replayThrow(name);
      const settled = new Promise((resolve, reject) => {
        engine.expect(reqId, (payload) => {
          const [ok, value] = payload as [boolean, unknown];
          ic.toProgram(() => (ok ? resolve(result.revive ? result.revive(value, args) : value) : reject(value)));
        });
      });
      if (inTurn) ic.deliverInTurn(reqId, inTurn, args, this, queueMicrotask);
      return settled;
    }, original, name.slice(name.lastIndexOf('.') + 1));
  }

  /**
   * Replay: a call Node completes within the current turn is delivered there (when the recording
   * has its delivery next), where the record's nextTick or microtask ran it, not in a later turn
   * of the sequencer.
   */
  deliverInTurn(reqId: number, inTurn: InTurn, args: Args, self: unknown, schedule: (fn: () => void) => void): void {
    const engine = this.engine;
    if ('known' in inTurn) {
      if (inTurn.known(args, self)) schedule(() => engine.deliverIfNext(reqId));
      return;
    }
    if (!engine.replaying) return;
    schedule(() => {
      const next = engine.peek();
      if (next?.kind === 'deliver' && next.reqId === reqId && inTurn.noted(next.payload)) engine.deliverIfNext(reqId);
    });
  }

  /**
   * A callback of an operation that runs live in both modes (stdio): record notes its turn; replay
   * holds the real completion until that turn.
   */
  sequencedCallback(reqId: number, callback: AnyFn): AnyFn {
    const ic = this;
    const engine = this.engine;
    if (engine.recording) {
      return function (this: unknown, ...cbArgs: Args) {
        engine.deliver(reqId, null);
        return ic.toProgram(() => callback.apply(this, cbArgs));
      };
    }
    const done = engine.realWork();
    return (...cbArgs: Args) => {
      done();
      engine.expect(reqId, () => ic.toProgram(() => callback(...cbArgs)));
    };
  }
}

/** A key that cannot be computed (a getter that throws) must not make the program's call fail. */
function safeKey(keyOf: KeyOf, args: Args, self: unknown): unknown {
  try {
    return keyOf(args, self);
  } catch {
    return '[arguments that cannot be read]';
  }
}

/** Runs an emitter's listeners as the program's code, and lets `onEmit` see each event first. */
function tapEmit(ic: Interceptor, emitter: EventEmitter, onEmit?: (event: string | symbol, args: Args) => void): void {
  const emit = emitter.emit;
  defineMethod(emitter, 'emit', function (this: EventEmitter, event: string | symbol, ...args: Args) {
    onEmit?.(event, args);
    return ic.toProgram(() => emit.call(this, event, ...args));
  });
}

// ---- the table of plain functions ----

interface Api {
  name: string;
  /** How many leading arguments are paths (or a path-or-fd). */
  paths: 0 | 1 | 2;
  /** Which forms exist: s(ync) `nameSync`, c(allback) `name`, p(romise) `fs.promises.name`. */
  forms: string;
  result?: Result;
  promiseResult?: Result;
  /** Sync and callback forms that run live for some arguments. */
  live?: LiveOf;
  syncLive?: LiveOf;
  promiseLive?: LiveOf;
}

function apis(ic: Interceptor): Api[] {
  const dir: Result = {
    encode: (d: { path: unknown }) => d.path,
    observe: (d: object & { path: unknown }) => installDirMethods(ic, d, d, d.path),
    revive: (path: unknown) => new ReplayDir(ic, path),
  };
  return [
    { name: 'access', paths: 1, forms: 'scp' },
    { name: 'appendFile', paths: 1, forms: 'scp', live: stdioTarget, promiseLive: stdioTarget },
    { name: 'chmod', paths: 1, forms: 'scp' },
    { name: 'chown', paths: 1, forms: 'scp' },
    { name: 'close', paths: 0, forms: 'sc', live: stdioFd },
    { name: 'copyFile', paths: 2, forms: 'scp' },
    { name: 'cp', paths: 2, forms: 'scp' },
    { name: 'fchmod', paths: 0, forms: 'sc' },
    { name: 'fchown', paths: 0, forms: 'sc' },
    { name: 'fdatasync', paths: 0, forms: 'sc', live: stdioFd },
    { name: 'fstat', paths: 0, forms: 'sc', result: STATS },
    { name: 'fsync', paths: 0, forms: 'sc', live: stdioFd },
    { name: 'ftruncate', paths: 0, forms: 'sc' },
    { name: 'futimes', paths: 0, forms: 'sc' },
    { name: 'lchmod', paths: 1, forms: 'p' },
    { name: 'lchown', paths: 1, forms: 'scp' },
    { name: 'link', paths: 2, forms: 'scp' },
    { name: 'lstat', paths: 1, forms: 'scp', result: STATS },
    { name: 'lutimes', paths: 1, forms: 'scp' },
    { name: 'mkdir', paths: 1, forms: 'scp' },
    { name: 'mkdtemp', paths: 1, forms: 'scp' },
    { name: 'mkdtempDisposable', paths: 1, forms: 'sp', result: disposable(ic, false), promiseResult: disposable(ic, true) },
    { name: 'open', paths: 1, forms: 'scp', promiseResult: fileHandleResult(ic) },
    { name: 'opendir', paths: 1, forms: 'scp', result: dir },
    { name: 'readdir', paths: 1, forms: 'scp', result: LISTING },
    { name: 'readFile', paths: 1, forms: 'scp', syncLive: moduleSource, result: SECRET_FILE },
    { name: 'readlink', paths: 1, forms: 'scp' },
    { name: 'realpath', paths: 1, forms: 'scp', syncLive: resolverRealpath },
    { name: 'rename', paths: 2, forms: 'scp' },
    { name: 'rm', paths: 1, forms: 'scp' },
    { name: 'rmdir', paths: 1, forms: 'scp' },
    { name: 'stat', paths: 1, forms: 'scp', result: STATS },
    { name: 'statfs', paths: 1, forms: 'scp', result: STATFS },
    { name: 'symlink', paths: 2, forms: 'scp' },
    { name: 'truncate', paths: 1, forms: 'scp' },
    { name: 'unlink', paths: 1, forms: 'scp' },
    { name: 'utimes', paths: 1, forms: 'scp' },
    { name: 'writeFile', paths: 1, forms: 'scp', live: stdioTarget, promiseLive: stdioTarget },
  ];
}

function defaultCloseCallback(err: unknown): void {
  if (err != null) throw err;
}

/**
 * Not in the table: fs.glob, fs.globSync and fs.promises.glob. They walk the tree with the patched
 * lstat(Sync)/readdir(Sync) (lib/internal/fs/glob.js takes them from the exports objects when it
 * first loads), so those calls are recorded one by one and replay runs Node's real glob on them. Had
 * glob been one recorded call, replay would load Node's minimatch elsewhere: it draws Math.random()
 * as it loads, and that must happen in the same place in both modes.
 */
function installTable(ic: Interceptor): void {
  // realpath.native (libuv's realpath) hangs off both forms; taken before they are replaced.
  const nativeSync = (fs.realpathSync as unknown as { native?: AnyFn }).native ?? null;
  const nativeCallback = (fs.realpath as unknown as { native?: AnyFn }).native ?? null;
  for (const api of apis(ic)) {
    const key = ic.keyOf(api.paths);
    if (api.forms.includes('s')) {
      const name = `${api.name}Sync` as keyof typeof fs;
      patch(fs, name, (o) => ic.sync(`fs.${name}`, o as AnyFn, key, api.result, api.syncLive ?? api.live) as never);
    }
    if (api.forms.includes('c')) {
      const name = api.name as keyof typeof fs;
      patch(fs, name, (o) => ic.callback(`fs.${name}`, o as AnyFn, key, errAndResult(api.result), api.live) as never);
    }
    if (api.forms.includes('p')) {
      const name = api.name as keyof typeof fsp;
      patch(fsp, name, (o) => ic.promise(`fs.promises.${name}`, o as AnyFn, key, api.promiseResult ?? api.result, api.promiseLive) as never);
    }
  }
  // fs.close(fd) may leave out its callback: Node's default throws a failure from the event loop.
  patch(fs, 'close', (wrapped) =>
    finish<AnyFn>(function close(fd: number, callback?: (err: unknown) => void) {
      return (wrapped as AnyFn)(fd, callback === undefined ? defaultCloseCallback : callback);
    }, wrapped as AnyFn) as never,
  );
  const key = ic.keyOf(1);
  if (nativeSync) (fs.realpathSync as unknown as { native: AnyFn }).native = ic.sync('fs.realpathSync.native', nativeSync, key);
  if (nativeCallback) (fs.realpath as unknown as { native: AnyFn }).native = ic.callback('fs.realpath.native', nativeCallback, key);
}

/** read/readSync, readv/readvSync, write/writeSync, writev/writevSync: bytes into and out of the caller's buffers. */
function installReadWrite(ic: Interceptor): void {
  const readSyncResult: Result = {
    encode: (n: number, args) => readForm(syncReadTarget(args), n, syncReadTarget(args)?.buffer),
    revive: ([n, bytes, alloc]: [number, Buffer | null, number | null], args) => {
      readInto(syncReadTarget(args), bytes, alloc);
      return n;
    },
  };
  patch(fs, 'readSync', (o) => ic.sync('fs.readSync', o, (args) => readKey(syncReadTarget(args), args[0], args), readSyncResult) as typeof o);

  const readCallback: CallbackResult = {
    record: ([err, n, buffer], args) => [err, n, ...readForm(callbackReadTarget(args), n as number, buffer).slice(1)],
    replay: ([err, n, bytes, alloc]: [unknown, number, Buffer | null, number | null], args) => [err, n, readInto(callbackReadTarget(args), bytes, alloc)],
  };
  // Callback reads of fd 0 are process.stdin's ReadStream when stdin is a file: the stdin boundary's.
  const stdinRead: LiveOf = ([fd]) => (fd === 0 ? 'passthrough' : undefined);
  patch(fs, 'read', (o) => ic.callback('fs.read', o, (args) => readKey(callbackReadTarget(args), args[0], args), readCallback, stdinRead) as typeof o);

  const readvKey: KeyOf = ([fd, buffers, position]) => [plain(fd), views(buffers)?.map((b) => b.byteLength) ?? plain(buffers), plain(position)];
  patch(fs, 'readvSync', (o) =>
    ic.sync('fs.readvSync', o, readvKey, {
      encode: (n: number, [, buffers]) => [n, gather(views(buffers) ?? [], n)],
      revive: ([n, bytes]: [number, Buffer], [, buffers]) => (scatter(views(buffers) ?? [], bytes), n),
    }) as typeof o,
  );
  patch(fs, 'readv', (o) =>
    ic.callback('fs.readv', o, readvKey, {
      record: ([err, n], [, buffers]) => [err, n, gather(views(buffers) ?? [], Number(n) || 0)],
      replay: ([err, n, bytes]: [unknown, number, Buffer], [, buffers]) => (scatter(views(buffers) ?? [], bytes), [err, n, buffers]),
    }, stdinRead) as typeof o,
  );

  const writeArgs: KeyOf = ([fd, data, a, b, c]) => writeKey(fd, data, a, b, c);
  const syncStdio: LiveOf = ([fd]) => (isStdioFd(fd) ? 'passthrough' : undefined);
  patch(fs, 'writeSync', (o) => ic.sync('fs.writeSync', o, writeArgs, AS_IS, syncStdio) as typeof o);
  // The callback gets back the buffer or string it passed: only the count crosses.
  const written: CallbackResult = { record: ([err, n]) => [err, n], replay: ([err, n]: Args, [, data]) => [err, n, data] };
  patch(fs, 'write', (o) => ic.callback('fs.write', o, writeArgs, written, stdioFd) as typeof o);
  const writevArgs: KeyOf = ([fd, buffers, position]) => writevKey(fd, buffers, position);
  patch(fs, 'writevSync', (o) => ic.sync('fs.writevSync', o, writevArgs, AS_IS, syncStdio) as typeof o);
  patch(fs, 'writev', (o) => ic.callback('fs.writev', o, writevArgs, written, stdioFd) as typeof o);
}

/** exists(path, cb) is access(path, F_OK) with a boolean callback, exactly as lib/fs.js has it, on the patched access. */
function installExists(ic: Interceptor): void {
  patch(fs, 'exists', (original) =>
    finish(function exists(this: unknown, path: unknown, callback: unknown) {
      if (typeof callback !== 'function' || ic.internal) return (original as AnyFn).call(this, path, callback);
      try {
        fs.access(path as string, fs.constants.F_OK, (err) => (callback as (exists: boolean) => void)(!err));
      } catch {
        return (callback as (exists: boolean) => void)(false);
      }
    }, original) as typeof original,
  );
  patch(fs, 'existsSync', (o) => ic.sync('fs.existsSync', o, ic.keyOf(1)) as typeof o);
}

// ---- FileHandle ----

/** FileHandle#read and #write results are null-prototype objects in Node. */
const nullProto = <T extends object>(obj: T): T => Object.assign(Object.create(null) as T, obj);

interface HandleMethod {
  key?: (args: Args, fd: unknown) => unknown;
  result?: Result;
  inTurn?: InTurn;
}

const HANDLE_METHODS: Record<string, HandleMethod> = {
  appendFile: {},
  chmod: {},
  chown: {},
  // Closing a closed handle resolves at once (a stream over the handle closes it after the program did).
  close: { inTurn: { known: (_args, self: { fd: number }) => self.fd === -1 } },
  datasync: {},
  read: {
    key: (args, fd) => readKey(handleReadTarget(args), fd, args),
    result: {
      encode: (r: { bytesRead: number; buffer: ArrayBufferView }, args) => readForm(handleReadTarget(args), r.bytesRead, r.buffer),
      revive: ([n, bytes, alloc]: [number, Buffer | null, number | null], args) => nullProto({ bytesRead: n, buffer: readInto(handleReadTarget(args), bytes, alloc) }),
    },
  },
  readFile: {},
  readv: {
    key: ([buffers, position], fd) => [plain(fd), views(buffers)?.map((b) => b.byteLength) ?? plain(buffers), plain(position)],
    result: {
      encode: (r: { bytesRead: number }, [buffers]) => [r.bytesRead, gather(views(buffers) ?? [], r.bytesRead)],
      revive: ([n, bytes]: [number, Buffer], [buffers]) => (scatter(views(buffers) ?? [], bytes), nullProto({ bytesRead: n, buffers })),
    },
  },
  stat: { result: STATS },
  sync: {},
  truncate: {},
  utimes: {},
  write: {
    key: ([data, a, b, c], fd) => writeKey(fd, data, a, b, c),
    result: { encode: (r: { bytesWritten: number }) => r.bytesWritten, revive: (n: number, [buffer]) => nullProto({ bytesWritten: n, buffer }) },
  },
  writeFile: {},
  writev: {
    key: ([buffers, position], fd) => writevKey(fd, buffers, position),
    result: { encode: (r: { bytesWritten: number }) => r.bytesWritten, revive: (n: number, [buffers]) => nullProto({ bytesWritten: n, buffers }) },
  },
};

/**
 * The promise methods of a FileHandle, on the handle itself: the real one in record (Node's own
 * FileHandle streams and readLines call them through the handle, so they are observed too), the
 * stand-in in replay. Keys start with the handle's fd at the time of the call.
 */
function installHandleMethods(ic: Interceptor, target: { fd: number }, real: Record<string, AnyFn> | null): void {
  for (const [name, spec] of Object.entries(HANDLE_METHODS)) {
    const original = real ? real[name]! : null;
    const keyOf: KeyOf = (args, self: { fd: number }) => (spec.key ? spec.key(args, self.fd) : [self.fd, ...args.map((a) => plain(a))]);
    defineMethod(target, name, ic.promise(`fs.FileHandle.${name}`, original, keyOf, spec.result, undefined, spec.inTurn), name === 'close');
  }
}

function fileHandleResult(ic: Interceptor): Result {
  return {
    encode: (h: { fd: number }) => h.fd,
    observe: (h: EventEmitter & { fd: number }) => {
      installHandleMethods(ic, h, h as unknown as Record<string, AnyFn>);
      // The handle emits 'close' from inside its real close(): listeners are the program's (or its streams').
      tapEmit(ic, h);
      knownHandles.add(h);
      return h;
    },
    revive: (fd: number) => new ReplayFileHandle(ic, fd),
  };
}

interface StreamOps {
  open(): never;
  close(fd: number, cb: (err?: unknown) => void): void;
  fsync(fd: number, cb: (err?: unknown) => void): void;
  read(fd: number, buf: ArrayBufferView, offset: number, length: number, pos: unknown, cb: AnyFn): void;
  write(fd: number, buf: ArrayBufferView, offset: number, length: number, pos: unknown, cb: AnyFn): void;
  writev(fd: number, buffers: ArrayBufferView[], pos: unknown, cb: AnyFn): void;
}

type StreamClass<T> = new (path: undefined, options: object) => T;

/**
 * Replay's FileHandle: fd, the promise methods answered from the recording, and the methods Node
 * builds on them (streams, readLines, readableWebStream) built the same way on these.
 */
class ReplayFileHandle extends EventEmitter {
  fd: number;
  private closing = false;
  declare read: AnyFn;
  declare write: AnyFn;
  declare writev: AnyFn;
  declare sync: AnyFn;

  constructor(ic: Interceptor, fd: number) {
    super();
    this.fd = fd;
    installHandleMethods(ic, this, null);
    knownHandles.add(this);
    const replayedClose = (this as unknown as { close: AnyFn }).close;
    // Like Node's close(): the handle is closed (fd -1) and 'close' emitted at once, the promise later.
    defineMethod(this, 'close', function close(this: ReplayFileHandle) {
      const done = replayedClose.call(this) as Promise<void>;
      if (this.fd !== -1 && !this.closing) {
        this.closing = true;
        this.fd = -1;
        this.emit('close');
      }
      return done;
    }, true);
  }

  declare close: () => Promise<void>;

  getAsyncId(): number {
    return -1; // no real handle exists in replay
  }

  /** Node's FileHandleOperations (lib/internal/fs/streams.js): what its streams call. */
  private streamOps(): StreamOps {
    return {
      open: () => {
        throw Object.assign(new Error('The open() method is not implemented'), { code: 'ERR_METHOD_NOT_IMPLEMENTED' });
      },
      close: (_fd, cb) => void this.close().then(() => cb(), cb),
      fsync: (_fd, cb) => void (this.sync() as Promise<void>).then(() => cb(), cb),
      read: (_fd, buf, offset, length, pos, cb) =>
        void (this.read(buf, offset, length, pos) as Promise<{ bytesRead: number; buffer: unknown }>).then((r) => cb(null, r.bytesRead, r.buffer), (err: unknown) => cb(err, 0, buf)),
      write: (_fd, buf, offset, length, pos, cb) =>
        void (this.write(buf, offset, length, pos) as Promise<{ bytesWritten: number; buffer: unknown }>).then((r) => cb(null, r.bytesWritten, r.buffer), (err: unknown) => cb(err, 0, buf)),
      writev: (_fd, buffers, pos, cb) =>
        void (this.writev(buffers, pos) as Promise<{ bytesWritten: number; buffers: unknown }>).then((r) => cb(null, r.bytesWritten, r.buffers), (err: unknown) => cb(err, 0, buffers)),
    };
  }

  createReadStream(options?: object): import('node:fs').ReadStream {
    const stream = new (fs.ReadStream as unknown as StreamClass<import('node:fs').ReadStream>)(undefined, { ...options, fd: this.fd, fs: this.streamOps() });
    this.on('close', () => stream.close());
    return stream;
  }

  createWriteStream(options?: object): import('node:fs').WriteStream {
    const stream = new (fs.WriteStream as unknown as StreamClass<import('node:fs').WriteStream>)(undefined, { ...options, fd: this.fd, fs: this.streamOps() });
    this.on('close', () => stream.close());
    return stream;
  }

  readLines(options?: object): import('node:readline').Interface {
    const readline = builtin<typeof import('node:readline')>('node:readline');
    return readline.createInterface({ input: this.createReadStream(options), crlfDelay: Infinity });
  }

  readableWebStream(options: { autoClose?: boolean } = {}): import('node:stream/web').ReadableStream {
    const { ReadableStream } = builtin<typeof import('node:stream/web')>('node:stream/web');
    const handle = this;
    const ondone = async () => {
      if (options.autoClose) await handle.close();
    };
    const readable = new ReadableStream({
      type: 'bytes',
      autoAllocateChunkSize: DEFAULT_READ_SIZE,
      async pull(controller) {
        const view = controller.byobRequest!.view!;
        const { bytesRead } = (await handle.read(view, view.byteOffset, view.byteLength)) as { bytesRead: number };
        if (bytesRead === 0) {
          controller.close();
          await ondone();
        }
        controller.byobRequest!.respond(bytesRead);
      },
      async cancel() {
        await ondone();
      },
    });
    this.once('close', () => void readable.cancel().catch(() => {}));
    return readable;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
Object.defineProperty(ReplayFileHandle, 'name', { value: 'FileHandle' });

/** fs.createReadStream/createWriteStream({ fd: fileHandle }): replay's stand-in builds the stream itself, like Node does for a real one. */
function installStreamFactories(ic: Interceptor): void {
  for (const name of ['createReadStream', 'createWriteStream'] as const) {
    patch(fs, name, (original) =>
      finish(function (this: unknown, path: unknown, options?: { fd?: unknown }) {
        const fd = options !== null && typeof options === 'object' ? options.fd : undefined;
        if (ic.engine.replaying && fd instanceof ReplayFileHandle) {
          const { fd: _handle, ...rest } = options!;
          return name === 'createReadStream' ? fd.createReadStream(rest) : fd.createWriteStream(rest);
        }
        return (original as AnyFn).call(this, path, options);
      }, original as AnyFn) as never,
    );
  }
}

// ---- Dir ----

/**
 * The methods of a Dir, on the Dir itself (real in record, stand-in in replay). Node's async
 * iterator and dispose methods call private methods, so they are rebuilt here on the observed
 * read/close, the same in both modes.
 */
function installDirMethods<T extends object>(ic: Interceptor, target: T, real: object | null, path: unknown): T {
  const proto = real ? (Object.getPrototypeOf(real) as Record<string, AnyFn>) : null;
  const key: KeyOf = () => [ic.pathKey(path)];
  // A Dir reads entries in batches: most reads are answered from the batch within the turn
  // (process.nextTick, or a promise settled at once). The recording notes which.
  const readCallback = ic.callback('fs.Dir.read:callback', proto?.read ?? null, key, {
    record: ([err, dirent], _args, inTurn) => [err, DIRENT.encode!(dirent, []), inTurn],
    replay: ([err, dirent]: Args) => [err, DIRENT.revive!(dirent, [])],
  }, undefined, { noted: (payload: Args) => payload[2] === true });
  const readPromise = ic.promise('fs.Dir.read', proto?.read ?? null, key, {
    encode: (dirent, _args, inTurn) => [DIRENT.encode!(dirent, []), inTurn],
    revive: ([dirent]: Args) => DIRENT.revive!(dirent, []),
  }, undefined, { noted: ([ok, value]: [boolean, Args]) => ok && value[1] === true });
  const readSync = ic.sync('fs.Dir.readSync', proto?.readSync ?? null, key, DIRENT);
  let closed = false;
  let wasClosed = false;
  // Closing a closed Dir fails within the turn (process.nextTick, a rejected promise).
  const closedAlready = { known: () => wasClosed };
  const closeCallback = ic.callback('fs.Dir.close:callback', proto?.close ?? null, key, undefined, undefined, closedAlready);
  const closePromise = ic.promise('fs.Dir.close', proto?.close ?? null, key, undefined, undefined, closedAlready);
  const closeSyncCall = ic.sync('fs.Dir.closeSync', proto?.closeSync ?? null, key);
  type Self = { read(): Promise<unknown>; close(): Promise<void>; closeSync(): void };
  async function* entries(this: Self) {
    try {
      for (;;) {
        const dirent = await this.read();
        if (dirent === null) break;
        yield dirent;
      }
    } finally {
      await this.close();
    }
  }
  const methods: Record<string | symbol, unknown> = {
    read: function read(this: unknown, ...args: Args) {
      return args.length === 0 ? readPromise.call(this) : readCallback.apply(this, args);
    },
    readSync,
    close: function close(this: unknown, ...args: Args) {
      wasClosed = closed;
      closed = true;
      return args[0] === undefined ? closePromise.call(this) : closeCallback.apply(this, args);
    },
    closeSync: function closeSync(this: unknown) {
      closed = true;
      return closeSyncCall.call(this);
    },
    entries,
    [Symbol.asyncIterator]: entries,
    [Symbol.dispose](this: Self) {
      if (!closed) this.closeSync();
    },
    async [Symbol.asyncDispose](this: Self) {
      if (!closed) await this.close();
    },
  };
  for (const name of Reflect.ownKeys(methods)) defineMethod(target, name, methods[name]);
  return target;
}

/** Replay's Dir. */
class ReplayDir {
  readonly #path: unknown;
  constructor(ic: Interceptor, path: unknown) {
    this.#path = path;
    installDirMethods(ic, this, null, path);
  }
  get path(): unknown {
    return this.#path;
  }
}
Object.defineProperty(ReplayDir, 'name', { value: 'Dir' });

// ---- mkdtempDisposable ----

/** mkdtempDisposable(Sync): the path, and remove() (a recursive rm) recorded as its own call. */
function disposable(ic: Interceptor, async: boolean): Result {
  const make = (path: unknown, realRemove: AnyFn | null) => {
    const key: KeyOf = () => [ic.pathKey(path)];
    if (!async) {
      const remove = ic.sync('fs.mkdtempDisposableSync.remove', realRemove, key);
      return { path, remove, [Symbol.dispose]: () => remove() };
    }
    const remove = ic.promise('fs.promises.mkdtempDisposable.remove', realRemove, key);
    return nullProto({ path, remove, [Symbol.asyncDispose]: async () => void (await remove()) });
  };
  return {
    encode: (d: { path: unknown }) => d.path,
    observe: (d: { path: unknown; remove: AnyFn }) => make(d.path, d.remove),
    revive: (path: unknown) => make(path, null),
  };
}

// ---- openAsBlob ----

/** fs.openAsBlob: the Blob reads the file lazily, so record reads it whole before handing it over. */
function installOpenAsBlob(ic: Interceptor): void {
  const engine = ic.engine;
  patch(fs, 'openAsBlob', (original) =>
    finish(function openAsBlob(this: unknown, ...args: Args) {
      if (ic.internal) return ic.passthrough(() => (original as AnyFn).apply(this, args));
      const reqId = engine.request(ic.channel('fs.openAsBlob', Shape.Request), safeKey(ic.keyOf(1), args, this));
      if (engine.recording) {
        const live = ic.start('fs.openAsBlob', () => (original as AnyFn).apply(this, args)) as Promise<Blob>;
        return live.then(
          async (blob) => {
            const bytes = Buffer.from(await ic.live(() => blob.arrayBuffer()));
            engine.deliver(reqId, [true, { type: blob.type, bytes }]);
            return blob;
          },
          (err: unknown) => {
            engine.deliver(reqId, [false, err]);
            throw err;
          },
        );
      }
      ic.replayThrow('fs.openAsBlob');
      return new Promise((resolve, reject) => {
        engine.expect(reqId, (payload) => {
          const [ok, value] = payload as [boolean, { type: string; bytes: Buffer }];
          ic.toProgram(() => (ok ? resolve(new Blob([new Uint8Array(value.bytes)], { type: value.type })) : reject(value)));
        });
      });
    }, original as AnyFn) as typeof original,
  );
}

// ---- watchers: each event is a delivery ----

/** Replay's FSWatcher: emits the recorded 'change' and 'error' events in their turns. */
class ReplayFSWatcher extends EventEmitter {
  private closed = false;
  constructor(private readonly ic: Interceptor, private readonly reqId: number, options: { signal?: AbortSignal } | undefined, listener: unknown) {
    super();
    ic.engine.expect(reqId, (payload) => {
      const [event, ...args] = payload as [string, ...Args];
      ic.toProgram(() => this.emit(event, ...args));
    }, true);
    if (typeof listener === 'function') this.on('change', listener as AnyFn);
    const signal = options?.signal;
    if (signal) {
      if (signal.aborted) process.nextTick(() => this.close());
      else signal.addEventListener('abort', () => this.close(), { once: true });
    }
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ic.engine.forget(this.reqId);
    process.nextTick(() => this.emit('close'));
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}
Object.defineProperty(ReplayFSWatcher, 'name', { value: 'FSWatcher' });

/** Replay's StatWatcher (fs.watchFile): one per resolved file name, like Node's. */
class ReplayStatWatcher extends EventEmitter {
  constructor(private readonly ic: Interceptor, readonly reqId: number) {
    super();
    ic.engine.expect(reqId, (payload) => {
      const [curr, prev] = payload as [unknown, unknown];
      ic.toProgram(() => this.emit('change', STATS.revive!(curr, []), STATS.revive!(prev, [])));
    }, true);
  }
  stop(): void {
    this.ic.engine.forget(this.reqId);
    process.nextTick(() => this.emit('stop'));
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}
Object.defineProperty(ReplayStatWatcher, 'name', { value: 'StatWatcher' });

function installWatchers(ic: Interceptor): void {
  const engine = ic.engine;

  patch(fs, 'watch', (original) =>
    finish(function watch(this: unknown, ...args: Args) {
      if (ic.internal) return ic.passthrough(() => (original as AnyFn).apply(this, args));
      const [filename, options, listener] = args;
      const opts = (typeof options === 'function' ? undefined : typeof options === 'string' ? { encoding: options } : options) as { signal?: AbortSignal } | undefined;
      const reqId = engine.request(ic.channel('fs.watch', Shape.Request), safeKey(() => [ic.pathKey(filename), plain(opts)], args, this));
      if (engine.recording) {
        const watcher = ic.start('fs.watch', () => (original as AnyFn).apply(this, args)) as EventEmitter;
        tapEmit(ic, watcher, (event, eventArgs) => {
          if (event === 'change' || event === 'error') engine.deliver(reqId, [event, ...eventArgs]);
        });
        return watcher;
      }
      ic.replayThrow('fs.watch');
      return new ReplayFSWatcher(ic, reqId, opts, typeof options === 'function' ? options : listener);
    }, original as AnyFn) as typeof original,
  );

  // Node keeps one StatWatcher per resolved file name; replay keeps its stand-ins the same way.
  const recordedWatchers = new WeakMap<object, number>();
  const replayWatchers = new Map<string, ReplayStatWatcher>();
  patch(fs, 'watchFile', (original) =>
    finish(function watchFile(this: unknown, ...args: Args) {
      if (ic.internal) return ic.passthrough(() => (original as AnyFn).apply(this, args));
      const [filename, options, listener] = args;
      const opts = options !== null && typeof options === 'object' ? options : undefined;
      const reqId = engine.request(ic.channel('fs.watchFile', Shape.Request), safeKey(() => [ic.pathKey(filename), plain(opts)], args, this));
      if (engine.recording) {
        const watcher = ic.start('fs.watchFile', () => (original as AnyFn).apply(this, args)) as EventEmitter;
        if (!recordedWatchers.has(watcher)) {
          recordedWatchers.set(watcher, reqId);
          tapEmit(ic, watcher, (event, [curr, prev]) => {
            if (event === 'change') engine.deliver(reqId, [STATS.encode!(curr, []), STATS.encode!(prev, [])]);
          });
        }
        return watcher;
      }
      ic.replayThrow('fs.watchFile');
      const resolved = pathModule.resolve(String(ic.pathKey(filename)));
      let watcher = replayWatchers.get(resolved);
      if (!watcher) replayWatchers.set(resolved, (watcher = new ReplayStatWatcher(ic, reqId)));
      watcher.on('change', (opts ? listener : options) as AnyFn);
      return watcher;
    }, original as AnyFn) as typeof original,
  );
  patch(fs, 'unwatchFile', (original) =>
    finish(function unwatchFile(this: unknown, filename: unknown, listener?: unknown) {
      if (!engine.replaying) return (original as AnyFn).call(this, filename, listener);
      const resolved = pathModule.resolve(String(ic.pathKey(filename)));
      const watcher = replayWatchers.get(resolved);
      if (!watcher) return;
      if (typeof listener === 'function') watcher.removeListener('change', listener as AnyFn);
      else watcher.removeAllListeners('change');
      if (watcher.listenerCount('change') === 0) {
        watcher.stop();
        replayWatchers.delete(resolved);
      }
    }, original as AnyFn) as typeof original,
  );

  // fs.promises.watch: an async iterator; each next()/return()/throw() is a request of its own.
  patch(fsp, 'watch', (original) =>
    finish(function watch(this: unknown, ...args: Args) {
      if (ic.internal) return ic.passthrough(() => (original as AnyFn).apply(this, args));
      const key = safeKey(() => [ic.pathKey(args[0]), plain(args[1])], args, this);
      const live = engine.recording ? ic.live(() => (original as AnyFn).apply(this, args) as AsyncIterator<unknown>) : null;
      const method = (name: 'next' | 'return' | 'throw') => {
        const call = ic.promise(`fs.promises.watch:${name}`, live ? (live[name]?.bind(live) ?? null) : null, () => key);
        return (...a: Args) => call(...a);
      };
      return {
        next: method('next'),
        return: method('return'),
        throw: method('throw'),
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    }, original as AnyFn) as typeof original,
  );
}

// ---- the boundary ----

export const fsBoundary: Boundary = {
  name: 'fs',
  install(engine: Engine) {
    const ic = new Interceptor(engine);
    installTable(ic);
    installReadWrite(ic);
    installExists(ic);
    installStreamFactories(ic);
    installOpenAsBlob(ic);
    installWatchers(ic);
  },
};
