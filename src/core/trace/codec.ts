// The value codec: a small, self-describing binary encoding for the values that cross the boundary.
//
// Why not JSON or v8.serialize: JSON loses Buffers, undefined, BigInt, -0 and errors; v8.serialize is
// tied to the V8 version, and a recording made on Node 24 must replay on Node 22. This format is
// documented in docs/trace-format.md and stays stable across Node versions.
//
// Encoding runs no program code: own accessor properties are not called (they are written as
// `[getter]`), a Proxy is written as `[Proxy]` without touching its traps, toJSON is never looked at,
// and a value that contains itself is written as `[circular]` where it recurs (a tree whose nodes
// point back at their parents, like a test runner's task list, would otherwise be walked to the
// depth limit once per path: exponential time and memory). The one exception is an error's name,
// message, stack and its own accessors: reading `stack` may run the program's
// Error.prepareStackTrace, which may read files. That runs inside `guardForeignCode` (the engine
// makes it a section whose crossings are not recorded), and whatever it throws is caught.
import { types } from 'node:util';

export const enum Tag {
  Undefined = 0,
  Null = 1,
  False = 2,
  True = 3,
  Int = 4, // zig-zag varint, safe integers only
  Float = 5, // float64 LE
  String = 6, // varint byte length + UTF-8
  Bytes = 7, // varint length + raw bytes; decodes to Buffer
  Array = 8, // varint count + values
  Object = 9, // varint count + (string key, value) pairs
  BigInt = 10, // string form
  Error = 11, // name, message, stack (string|undefined), then an Object of own properties
  Date = 12, // float64 time value
  TypedArray = 13, // u8 kind + varint byte length + bytes
  ArrayBuffer = 14, // varint length + bytes
  Map = 15, // varint count + (value, value) pairs
  Set = 16, // varint count + values
  Unencodable = 17, // string description (functions, symbols, cycles): kept for display only
}

const TYPED_KINDS = [
  Uint8Array, Int8Array, Uint8ClampedArray, Uint16Array, Int16Array, Uint32Array, Int32Array,
  Float32Array, Float64Array, BigUint64Array, BigInt64Array,
] as const;

const textDecoder = new TextDecoder();

/** Buffer.prototype.utf8Write (Node's native UTF-8 writer behind buf.write; not in @types/node): returns the bytes written. */
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write: (s: string, offset: number, length: number) => number }).utf8Write;
function utf8Write(buf: Buffer, s: string, offset: number, length: number): number {
  return nativeUtf8Write.call(buf, s, offset, length);
}

/** A growable byte buffer with the primitive writes the trace needs. Reused, never reallocated per event. */
export class ByteWriter {
  buf: Buffer;
  view: DataView;
  pos = 0;

  constructor(initialSize = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  varint(v: number): void {
    // Unsigned LEB128 for 0 <= v < 2^53.
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  string(s: string): void {
    // Encoded in place by Buffer's own UTF-8 writer: no subarray, no result object, no copy
    // (TextEncoder.encodeInto needed both, and cost 2-10x more per short string).
    // Worst case 3 bytes per UTF-16 unit: short strings get their one-byte length afterwards.
    const max = s.length * 3;
    if (max < 128) {
      this.ensure(1 + max);
      const start = this.pos + 1;
      const written = utf8Write(this.buf, s, start, max);
      this.buf[this.pos] = written;
      this.pos = start + written;
      return;
    }
    const length = Buffer.byteLength(s, 'utf8');
    this.varint(length);
    this.ensure(length);
    this.pos += utf8Write(this.buf, s, this.pos, length);
  }

  /** Takes the written bytes (a copy) and resets the writer for reuse. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

export class ByteReader {
  pos = 0;
  private view: DataView;

  constructor(readonly buf: Buffer, start = 0, readonly end = buf.length) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new CorruptTraceError('an event runs past the end of its chunk');
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new CorruptTraceError('varint too long');
    }
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  rawBytes(): Buffer {
    const n = this.varint();
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return textDecoder.decode(this.rawBytes());
  }
}

export class CorruptTraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptTraceError';
  }
}

/** Runs code of the program's that encoding must call (an error's stack formatting); set by the engine. */
let foreignGuard: <T>(fn: () => T) => T = (fn) => fn();
export function guardForeignCode(guard: <T>(fn: () => T) => T): void {
  foreignGuard = guard;
}

/** Reads a property of an error that may run the program's code (a getter, prepareStackTrace), safely. */
function readErrorProperty(err: object, key: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: foreignGuard(() => (err as Record<string, unknown>)[key]) };
  } catch (e) {
    let reason = 'a value';
    try {
      reason = e instanceof Error && typeof e.message === 'string' ? e.message : typeof e;
    } catch {
      // the thrown value itself throws: say nothing more about it
    }
    return { ok: false, reason };
  }
}

/** A description for a value that is not a string where one is expected (an error's name or message). */
function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'symbol')) return String(v);
  if (typeof v === 'symbol') return v.toString();
  return `[${typeof v}]`;
}

/** Own enumerable properties of an error worth keeping (code, errno, syscall, path, status...). */
function errorProps(err: Error): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (key === 'stack' || key === 'message') continue;
    const read = readErrorProperty(err, key);
    props[key] = read.ok ? read.value : `[getter threw: ${read.reason}]`;
  }
  const cause = Object.getOwnPropertyDescriptor(err, 'cause');
  if (cause && !cause.enumerable) props.cause = 'value' in cause ? cause.value : '[getter]';
  return props;
}

/** The objects being encoded, outermost first: a value found among them is a cycle. */
const ancestors: object[] = [];

export function writeValue(w: ByteWriter, value: unknown, depth = 0): void {
  switch (typeof value) {
    case 'undefined':
      w.u8(Tag.Undefined);
      return;
    case 'boolean':
      w.u8(value ? Tag.True : Tag.False);
      return;
    case 'number':
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
        w.u8(Tag.Int);
        w.varint(value >= 0 ? value * 2 : -value * 2 - 1);
      } else {
        w.u8(Tag.Float);
        w.f64(value);
      }
      return;
    case 'string':
      w.u8(Tag.String);
      w.string(value);
      return;
    case 'bigint':
      w.u8(Tag.BigInt);
      w.string(value.toString());
      return;
    case 'function':
    case 'symbol':
      w.u8(Tag.Unencodable);
      w.string(typeof value === 'function' ? `[function ${value.name || 'anonymous'}]` : String(value));
      return;
  }
  if (value === null) {
    w.u8(Tag.Null);
    return;
  }
  if (depth > 64) {
    w.u8(Tag.Unencodable);
    w.string('[nested too deeply]');
    return;
  }
  const d = depth + 1;
  if (types.isProxy(value)) {
    w.u8(Tag.Unencodable);
    w.string('[Proxy]');
    return;
  }
  if (ancestors.includes(value as object)) {
    w.u8(Tag.Unencodable);
    w.string('[circular]');
    return;
  }
  ancestors.push(value as object);
  try {
    writeObjectLike(w, value as object, d);
  } finally {
    ancestors.pop();
  }
}

function writeObjectLike(w: ByteWriter, value: object, d: number): void {
  if (Buffer.isBuffer(value)) {
    w.u8(Tag.Bytes);
    w.bytes(value);
    return;
  }
  if (ArrayBuffer.isView(value)) {
    if (value instanceof DataView) {
      w.u8(Tag.TypedArray);
      w.u8(0);
      w.bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      return;
    }
    const kind = TYPED_KINDS.findIndex((C) => value instanceof C);
    w.u8(Tag.TypedArray);
    w.u8(kind < 0 ? 0 : kind);
    w.bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return;
  }
  if (value instanceof ArrayBuffer) {
    w.u8(Tag.ArrayBuffer);
    w.bytes(new Uint8Array(value));
    return;
  }
  if (Array.isArray(value)) {
    w.u8(Tag.Array);
    w.varint(value.length);
    for (let i = 0; i < value.length; i++) writeValue(w, value[i], d);
    return;
  }
  if (value instanceof Error) {
    const name = readErrorProperty(value, 'name');
    const message = readErrorProperty(value, 'message');
    const stack = readErrorProperty(value, 'stack');
    w.u8(Tag.Error);
    w.string(name.ok ? asText(name.value) : 'Error');
    w.string(message.ok ? asText(message.value) : `[message getter threw: ${message.reason}]`);
    writeValue(w, stack.ok && typeof stack.value === 'string' ? stack.value : undefined, d);
    writeObject(w, errorProps(value), d);
    return;
  }
  if (value instanceof Date) {
    w.u8(Tag.Date);
    w.f64(value.getTime());
    return;
  }
  if (value instanceof Map) {
    w.u8(Tag.Map);
    w.varint(value.size);
    for (const [k, v] of value) {
      writeValue(w, k, d);
      writeValue(w, v, d);
    }
    return;
  }
  if (value instanceof Set) {
    w.u8(Tag.Set);
    w.varint(value.size);
    for (const v of value) writeValue(w, v, d);
    return;
  }
  writeObject(w, value as Record<string, unknown>, d);
}

function writeObject(w: ByteWriter, obj: Record<string, unknown>, depth: number): void {
  const keys = Object.keys(obj);
  w.u8(Tag.Object);
  w.varint(keys.length);
  for (const key of keys) {
    w.string(key);
    const desc = Object.getOwnPropertyDescriptor(obj, key);
    if (desc === undefined || 'value' in desc) {
      writeValue(w, desc?.value, depth);
    } else {
      // An accessor is the program's code: calling it could change what the program sees.
      w.u8(Tag.Unencodable);
      w.string('[getter]');
    }
  }
}

const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

/** Deeper nesting than the writer ever produces (it stops at 64) is damage, not a reason to overflow the stack. */
const MAX_READ_DEPTH = 200;

/** Decodes one value. Damaged bytes throw CorruptTraceError, never anything else. */
export function readValue(r: ByteReader): unknown {
  try {
    return readValueAt(r, 0);
  } catch (err) {
    if (err instanceof CorruptTraceError) throw err;
    throw new CorruptTraceError(`a value cannot be decoded (${(err as Error).message})`);
  }
}

/** A count read from the trace: each element takes at least one byte, so more than the bytes left is damage. */
function count(r: ByteReader): number {
  const n = r.varint();
  if (n > r.end - r.pos) throw new CorruptTraceError(`a count of ${n} runs past the end of its chunk`);
  return n;
}

function readValueAt(r: ByteReader, depth: number): unknown {
  if (depth > MAX_READ_DEPTH) throw new CorruptTraceError('values nested too deeply');
  const readValue = (r: ByteReader) => readValueAt(r, depth + 1);
  const readObjectBody = (r: ByteReader) => readObjectBodyAt(r, depth + 1);
  const tag = r.u8();
  switch (tag) {
    case Tag.Undefined:
      return undefined;
    case Tag.Null:
      return null;
    case Tag.False:
      return false;
    case Tag.True:
      return true;
    case Tag.Int: {
      const z = r.varint();
      return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    }
    case Tag.Float:
      return r.f64();
    case Tag.String:
      return r.string();
    case Tag.Bytes:
      return Buffer.from(r.rawBytes());
    case Tag.Array: {
      const n = count(r);
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(r);
      return out;
    }
    case Tag.Object:
      return readObjectBody(r);
    case Tag.BigInt:
      return BigInt(r.string());
    case Tag.Error: {
      const name = r.string();
      const message = r.string();
      const stack = readValue(r);
      if (r.u8() !== Tag.Object) throw new CorruptTraceError('error without properties');
      const props = readObjectBody(r);
      const Ctor = ERROR_CLASSES[name] ?? Error;
      const err = new Ctor(message);
      if (err.name !== name) Object.defineProperty(err, 'name', { value: name, writable: true, configurable: true });
      if (typeof stack === 'string') Object.defineProperty(err, 'stack', { value: stack, writable: true, configurable: true });
      Object.assign(err, props);
      return err;
    }
    case Tag.Date:
      return new Date(r.f64());
    case Tag.TypedArray: {
      const kind = r.u8();
      const bytes = r.rawBytes();
      const Ctor = TYPED_KINDS[kind] ?? Uint8Array;
      const copy = new Uint8Array(bytes).buffer; // aligned copy
      return new Ctor(copy);
    }
    case Tag.ArrayBuffer:
      return new Uint8Array(r.rawBytes()).buffer;
    case Tag.Map: {
      const n = count(r);
      const m = new Map();
      for (let i = 0; i < n; i++) m.set(readValue(r), readValue(r));
      return m;
    }
    case Tag.Set: {
      const n = count(r);
      const s = new Set();
      for (let i = 0; i < n; i++) s.add(readValue(r));
      return s;
    }
    case Tag.Unencodable:
      return r.string();
    default:
      throw new CorruptTraceError(`unknown value tag ${tag}`);
  }
}

function readObjectBodyAt(r: ByteReader, depth: number): Record<string, unknown> {
  const n = count(r);
  const obj: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const key = r.string();
    // An own property, even for "__proto__": decoding never changes an object's prototype.
    Object.defineProperty(obj, key, { value: readValueAt(r, depth), writable: true, enumerable: true, configurable: true });
  }
  return obj;
}

/** Encodes a value on its own: used to compare arguments byte for byte. */
const scratch = new ByteWriter(1 << 12);
export function encodeValue(value: unknown): Buffer {
  scratch.pos = 0;
  ancestors.length = 0;
  writeValue(scratch, value);
  return Buffer.from(scratch.buf.subarray(0, scratch.pos));
}

export function decodeValue(buf: Buffer): unknown {
  return readValue(new ByteReader(buf));
}
