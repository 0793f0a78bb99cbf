// The shadow state of instrumented code during a provenance replay: the label register, shadow
// fields of objects, the shadow call stack, and the models of built-ins. Installed as
// `globalThis.__retraceProvenance`; the instrumenter's rewrites call its methods.
import { Arena, F_CONTROL, F_COPY, F_IMPRECISE, F_MATCHED, F_SAME, type Origin } from './arena.js';
import { isAscii } from 'node:buffer';
import { jsonLeafRanges } from './json-paths.js';
import { familyOf, SOCKET_DELIVERY } from '../boundary/catalog.js';
import { types as utilTypes } from 'node:util';
import { collectsReturns, modelOf, type Call, type ModelHost } from './models/index.js';

/** A call in flight from instrumented code. */
interface Frame {
  site: number;
  fn: unknown;
  recv: unknown;
  recvLabel: number;
  method: boolean;
  args: unknown[];
  labels: number[];
  entered: boolean;
  ret: number;
  deferred: number;
  inputMark: number;
  /** Array callbacks: the labels the callback returned, by call. */
  returns: number[] | null;
  /** The values those callbacks returned, for models that need them (flatMap, replace with a callback). */
  returnValues: unknown[] | null;
  /** A snapshot of an array receiver before a mutating method (sort, reverse). */
  before: { values: unknown[]; labels: number[] } | null;
  /** reduce: the accumulator's label. */
  acc: number;
  /** The count of instrumented returns when the call started. */
  returnMark: number;
  /** Scoped provenance: whether the caller was making lineage (restored when the call returns). */
  tracking: boolean;
  /** --control: the conditions this function's code runs under, and the caller's (restored when the call returns). */
  ctl: number;
  callerCtl: number;
}

interface PendingCallback {
  labels: number[];
  deferred: number;
}

const SHORT = Symbol('retrace.shortCircuit');
const NO_FRAME: Frame = newFrame(0, undefined, undefined, 0, false);
const ARRAY_CALLBACK_METHODS = new Set(['map', 'filter', 'forEach', 'find', 'findIndex', 'findLast', 'findLastIndex', 'some', 'every', 'flatMap']);
const STRING_METHODS = new Set([
  'slice', 'substring', 'substr', 'trim', 'trimStart', 'trimEnd', 'toUpperCase', 'toLowerCase', 'toLocaleUpperCase', 'toLocaleLowerCase',
  'padStart', 'padEnd', 'replace', 'replaceAll', 'concat', 'charAt', 'at', 'repeat', 'normalize', 'toString', 'valueOf', 'charCodeAt', 'codePointAt',
]);
/** Names of built-ins whose models want their callbacks' returns (checked before looking the method up). */
const COLLECTING_NAMES = new Set(['replace', 'replaceAll', 'flatMap', 'from']);
const NUMBER_FUNCTIONS = new Set(['Number', 'parseFloat', 'parseInt', 'String', 'BigInt', 'Boolean']);

function newFrame(site: number, fn: unknown, recv: unknown, recvLabel: number, method: boolean): Frame {
  return { site, fn, recv, recvLabel, method, args: [], labels: [], entered: false, ret: 0, deferred: 0, inputMark: 0, returns: null, returnValues: null, before: null, acc: 0, returnMark: 0, tracking: true, ctl: 0, callerCtl: 0 };
}

export interface Snapshot {
  value: unknown;
  label: number;
  hit: number;
  error?: string;
  /** Where the hit ran (scoped provenance): its connection and request, or null outside every connection. */
  place: Place | null;
}

/** A connection a server accepted and, inside it, an HTTP request (both numbered in the order they came). */
export interface Place {
  connection: number;
  request: number | null;
}

export interface ProbeControl {
  hit: number | 'last';
  onHit(snapshot: Snapshot, final: boolean): void;
  /** The connection and request the code running now belongs to, or null (the program's own setup, timers...). */
  place(): Place | null;
}

/**
 * Live labelled fields of objects and entries of collections, against a cap, so that the shadow
 * state of what the program holds stays bounded as the arena is. Fields go with their objects: a
 * finalizer gives their count back.
 */
export class ShadowBudget {
  live = 0;
  /** The cap was reached: a field not labelled yet is then left without its own label. */
  full = false;
  readonly gone = new FinalizationRegistry<Map<unknown, number>>((fields) => {
    this.live -= fields.size;
  });
  constructor(readonly limit: number) {}
}

/** The labels of one object's fields (or one collection's entries), counted against the budget. */
class ShadowFields<K> extends Map<K, number> {
  constructor(private readonly budget: ShadowBudget) {
    super();
  }

  override set(k: K, label: number): this {
    if (!super.has(k)) {
      if (this.budget.live >= this.budget.limit) {
        this.budget.full = true;
        return this;
      }
      this.budget.live++;
    }
    return super.set(k, label);
  }

  override delete(k: K): boolean {
    const had = super.delete(k);
    if (had) this.budget.live--;
    return had;
  }

  override clear(): void {
    this.budget.live -= this.size;
    super.clear();
  }
}

/** Where the fields of objects met after the cap go: nothing is kept for them. */
class DroppedFields extends Map<PropertyKey, number> {
  override set(): this {
    return this;
  }
}
const DROPPED = new DroppedFields();

export class ProvenanceRuntime implements ModelHost {
  /** The label of the value the last rewritten expression produced. */
  L = 0;
  readonly arena: Arena;
  // sites
  readonly siteFile: number[] = [0];
  readonly siteLine: number[] = [0];
  readonly siteColumn: number[] = [0];
  readonly siteOp: string[] = [''];
  readonly files: string[] = [];
  // shadows
  private readonly props = new WeakMap<object, Map<PropertyKey, number>>();
  private readonly bases = new WeakMap<object, number>();
  private readonly jsonBases = new WeakMap<object, JsonBase>();
  private readonly sqlRows = new WeakMap<object, { origin: Origin; row: number; query: number }>();
  private readonly promiseLabels = new WeakMap<object, number>();
  private readonly promiseElements = new WeakMap<object, number[]>();
  private readonly mapEntries = new WeakMap<object, Map<unknown, number>>();
  private readonly fnSites = new WeakMap<object, number>();
  /** Sites of generator function bodies, and generators made by instrumented calls whose body has not started. */
  private readonly generatorSites = new Set<number>();
  private readonly unstarted: { args: unknown[]; labels: number[] }[] = [];
  private readonly pendingCallbacks = new Map<number, PendingCallback[]>();
  private readonly frames: Frame[] = [];
  private readonly parts: number[] = [];
  private readonly keys: unknown[] = [];
  private readonly spreads: unknown[] = [];
  private iterLabels = new Map<number, { label: number; value: unknown }>();
  lastThrown: unknown = undefined;
  private lastThrownLabel = 0;
  // inputs
  private inputSeq = 0;
  private readonly inputLog: { seq: number; label: number; value: unknown }[] = [];
  private readonly inputObjects = new WeakMap<object, number>();
  private readonly inputStrings = new Map<string, number>();
  private readonly chunks: { event: number; reqId: number; channel: string; bytes: Buffer; label: number }[] = [];
  private chunkBytes = 0;
  private envEvent = -1;
  private readonly envLabels = new Map<string, number>();
  private randomCount = 0;
  private readonly internalSite: Map<string, number> = new Map();
  readonly notes = new Set<string>();
  /** Labelled primitives that instrumented code handed to code it does not instrument (a stream, a timer, resolve). */
  private readonly outbound = new Map<unknown, number>();
  /** resolve/reject functions of promises constructed by instrumented code. */
  private readonly resolvers = new WeakMap<object, number>();
  /**
   * Scoped provenance: whether the code running now is in the traced scope (null: all of it is).
   * Asked where instrumented code can start running in another async context: a function's
   * entry, the resumption after an await; a call's return restores its caller's answer.
   */
  inScope: (() => boolean) | null = null;
  /**
   * --control: values stored under a condition (an if's branch, the code after an if that returned,
   * the chosen side of ?:, ||, &&, ??) also depend on it. `ctl` is the label of the conditions the
   * running code is under; each function frame keeps its own (so it survives awaits), and a callee
   * starts under its caller's.
   */
  controlFlow = false;
  ctl = 0;
  private readonly moduleFrame: Frame = newFrame(0, undefined, undefined, 0, false);
  // probe
  hits = 0;
  private snapshot: Snapshot | null = null;

  readonly budget: ShadowBudget;

  constructor(maxNodes: number, private readonly control: ProbeControl) {
    this.arena = new Arena(maxNodes);
    this.budget = new ShadowBudget(maxNodes);
  }

  /** New shadow fields for `owner`, counted until it is collected. */
  private fields<K>(owner: object): ShadowFields<K> {
    const m = new ShadowFields<K>(this.budget);
    this.budget.gone.register(owner, m as Map<unknown, number>);
    return m;
  }

  // ---------- sites (called by the instrumenter at load time) ----------

  siteText(site: number): string {
    const file = this.siteFile[site]!;
    return file >= 0 ? `${this.files[file]}:${this.siteLine[site]}:${this.siteColumn[site]}` : this.siteOp[site] ?? '?';
  }

  file(name: string): number {
    this.files.push(name);
    return this.files.length - 1;
  }

  site(file: number, line: number, column: number, op: string, generator?: boolean): number {
    this.siteFile.push(file);
    this.siteLine.push(line);
    this.siteColumn.push(column);
    this.siteOp.push(op);
    if (generator) this.generatorSites.add(this.siteOp.length - 1);
    return this.siteOp.length - 1;
  }

  /** A site for operations the runtime itself names (built-in models without a source location). */
  internal(op: string): number {
    let s = this.internalSite.get(op);
    if (s === undefined) {
      s = this.site(-1, 0, 0, op);
      this.internalSite.set(op, s);
    }
    return s;
  }

  literalLabel(file: number, line: number, column: number, value: unknown): number {
    const s = this.site(file, line, column, 'literal');
    return this.arena.origin(s, value, { kind: 'literal', detail: `literal ${literalText(value)} at ${this.files[file]}:${line}` });
  }

  literals(labels: number[]): Int32Array {
    return Int32Array.from(labels);
  }

  // ---------- scalar operations ----------

  copy(site: number): number {
    const l = this.L;
    if (this.ctl) return (this.L = this.underControl(site, this.arena.values[l], l));
    if (l === 0) return 0;
    return (this.L = this.arena.node1(site, F_COPY, this.arena.values[l], l));
  }

  /** A value stored under conditions (--control): its own lineage and the conditions'. */
  private underControl(site: number, v: unknown, l: number, ctl = this.ctl): number {
    const n = this.arena.node2(site, 0, v, l, ctl);
    this.arena.opNames.set(n, 'stored under a condition');
    return n;
  }

  // ---------- control (--control) ----------

  /** An if's test: the code it guards runs under it (until `restore`, or to the function's end when a branch exits early). */
  branch<T>(frame: Frame | null, site: number, v: T, l: number): T {
    if (!this.controlFlow || !l) return v;
    const f = frame ?? this.moduleFrame;
    const n = this.arena.node2(site, F_CONTROL, !!v, l, f.ctl);
    f.ctl = this.ctl = n;
    return v;
  }

  ctlOf(frame: Frame | null): number {
    return (frame ?? this.moduleFrame).ctl;
  }

  restore(frame: Frame | null, saved: number): void {
    (frame ?? this.moduleFrame).ctl = this.ctl = saved;
  }

  /** The operand ?:, ||, &&, ?? chose: it depends on the test that chose it (shown as what the test was: true, false, nullish). */
  chosen<T>(site: number, v: T, testLabel: number, test: boolean | 'nullish'): T {
    if (!testLabel) return v;
    const decided = this.arena.node1(site, F_CONTROL, test, testLabel);
    this.L = this.arena.node2(site, 0, v, this.L, decided);
    return v;
  }

  binary(site: number, a: any, la: number, b: any, lb: number): unknown {
    let v: unknown;
    switch (this.siteOp[site]) {
      case '+': v = a + b; break;
      case '-': v = a - b; break;
      case '*': v = a * b; break;
      case '/': v = a / b; break;
      case '%': v = a % b; break;
      case '**': v = a ** b; break;
      case '==': v = a == b; break;
      case '!=': v = a != b; break;
      case '===': v = a === b; break;
      case '!==': v = a !== b; break;
      case '<': v = a < b; break;
      case '<=': v = a <= b; break;
      case '>': v = a > b; break;
      case '>=': v = a >= b; break;
      case '<<': v = a << b; break;
      case '>>': v = a >> b; break;
      case '>>>': v = a >>> b; break;
      case '&': v = a & b; break;
      case '|': v = a | b; break;
      case '^': v = a ^ b; break;
      case 'in': v = a in b; break;
      case 'instanceof': v = a instanceof b; break;
      default: throw new Error(`retrace: unknown operator ${this.siteOp[site]}`);
    }
    if (typeof v === 'string') {
      // a Buffer from code we do not instrument, appended to a string: find its bytes among the inputs
      if (la === 0 && Buffer.isBuffer(a)) la = this.foreignLabel(a);
      if (lb === 0 && Buffer.isBuffer(b)) lb = this.foreignLabel(b);
    }
    if (la === 0 && lb === 0) {
      this.L = 0;
      return v;
    }
    this.L = this.arena.node2(site, 0, v, la, lb);
    if (typeof v === 'string' && (typeof a !== 'object' || Buffer.isBuffer(a)) && (typeof b !== 'object' || Buffer.isBuffer(b))) {
      this.concats.set(this.L, { lengths: [String(a).length, String(b).length], labels: [la, lb] });
    }
    return v;
  }

  /** String concatenations: the lengths and labels of their parts, to map character ranges back to inputs. */
  private readonly concats = new Map<number, { lengths: number[]; labels: number[] }>();
  /** Encodings (base64, hex, bytes of text): a range of the result is a range of the source, through `map`. */
  private readonly rangeMaps = new Map<number, { src: number; map: (start: number, end: number) => [number, number] }>();
  private readonly templateLengths: number[] = [];

  tpart<T>(v: T): T {
    this.parts.push(this.L);
    this.templateLengths.push(v !== null && typeof v === 'object' ? -1 : typeof v === 'symbol' ? -1 : String(v).length);
    return v;
  }

  unary(site: number, v: any, l: number): unknown {
    let r: unknown;
    switch (this.siteOp[site]) {
      case '-': r = -v; break;
      case '+': r = +v; break;
      case '!': r = !v; break;
      case '~': r = ~v; break;
      case 'typeof': r = typeof v; break;
      case 'void': r = undefined; break;
      default: r = v;
    }
    this.L = l ? this.arena.node1(site, 0, r, l) : 0;
    return r;
  }

  step(site: number, l: number): number {
    this.L = l ? this.arena.node1(site, 0, undefined, l) : 0;
    return this.L;
  }

  template(site: number, quasiLengths: number[], s: string): string {
    const n = quasiLengths.length - 1;
    const labels = this.parts.splice(this.parts.length - n, n);
    const lengths = this.templateLengths.splice(this.templateLengths.length - n, n);
    let any = false;
    for (const l of labels) if (l) any = true;
    this.L = any ? this.arena.node(site, 0, s, labels) : 0;
    if (any && !lengths.includes(-1)) {
      const all: number[] = [];
      const alls: number[] = [];
      quasiLengths.forEach((q, i) => {
        all.push(q);
        alls.push(0);
        if (i < n) {
          all.push(lengths[i]!);
          alls.push(labels[i]!);
        }
      });
      this.concats.set(this.L, { lengths: all, labels: alls });
    }
    return s;
  }

  part<T>(v: T): T {
    this.parts.push(this.L);
    return v;
  }

  key<T>(k: T): T {
    this.keys.push(k);
    return k;
  }

  spread<T>(v: T): T {
    this.parts.push(-2, this.L);
    this.spreads.push(v);
    return v;
  }

  spreadArg<T>(v: T): T {
    const f = this.frames[this.frames.length - 1];
    const l = this.L;
    if (f && v && typeof (v as any)[Symbol.iterator] === 'function') {
      if (Array.isArray(v)) for (let i = 0; i < v.length; i++) { f.args.push(v[i]); f.labels.push(this.elementLabel(v, i, l)); }
      else { f.args.push(v); f.labels.push(l); }
    }
    return v;
  }

  fnDef<T>(site: number, fn: T): T {
    this.fnSites.set(fn as object, site);
    this.L = 0;
    return fn;
  }

  // ---------- objects ----------

  private shadow(o: object): Map<PropertyKey, number> {
    let m = this.props.get(o);
    if (!m) {
      if (this.budget.full) return DROPPED; // over the cap, no new object gets shadow state
      this.props.set(o, (m = this.fields<PropertyKey>(o)));
    }
    return m;
  }

  setProp(o: unknown, k: PropertyKey, label: number): void {
    if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return;
    const key = typeof k === 'number' ? String(k) : k;
    if (label === 0) {
      this.props.get(o as object)?.delete(key);
      return;
    }
    this.shadow(o as object).set(key, label);
  }

  /** The label of o[k]: its shadow field, else derived from what o came from (JSON, SQL, env, an input). */
  propLabel(site: number, o: unknown, lo: number, k: unknown, v: unknown): number {
    if (o === null || o === undefined) return 0;
    const key = typeof k === 'number' ? String(k) : (k as PropertyKey);
    if (typeof o === 'object' || typeof o === 'function') {
      const m = this.props.get(o as object);
      const own = m?.get(key);
      if (own !== undefined) return own;
      if (o === process.env && typeof key === 'string') return this.envLabel(key, v);
      if (typeof key === 'string' && (o as any)[Symbol.toStringTag] === 'Module') return ((o as any)[`${key}$$L`] as number) | 0;
      const json = this.jsonBases.get(o as object);
      if (json && typeof key === 'string') return this.jsonChild(o as object, json, key, v);
      const sql = this.sqlRows.get(o as object);
      if (sql && typeof key === 'string') {
        // rows reached without the query call that selected them (a library's callback): which row it is
        // depends on parameters whose lineage is not known, and the answer says so
        if (!sql.query) this.notes.add('some SQL rows were reached through library code without the query call that selected them: the lineage of its parameters (which rows were chosen) is not part of the answer');
        const leaf = this.arena.origin(this.internal('input'), v, { ...sql.origin, row: sql.row, column: key }, sql.query ? 0 : F_IMPRECISE);
        const l = sql.query ? this.arena.node2(this.internal('SQL row, selected by the query'), 0, v, leaf, sql.query) : leaf;
        this.shadow(o as object).set(key, l);
        return l;
      }
      if (o instanceof Map || o instanceof Set) return 0;
      const inherited = this.inheritedLabel(o as object, key);
      if (inherited) return inherited;
      const base = this.bases.get(o as object) ?? lo;
      if (base && typeof v !== 'function') {
        const l = this.arena.node1(site, 0, v, base);
        return l;
      }
      if (typeof v === 'string' && v.length >= 4 && !Array.isArray(o)) return this.matchContent(v);
      return 0;
    }
    // a primitive receiver: a string's characters and length derive from the string
    return lo ? this.arena.node1(site, 0, v, lo) : 0;
  }

  /** A field the object does not have itself: the label its prototype chain holds for it (Object.create, a class's prototype). */
  private inheritedLabel(o: object, key: PropertyKey): number {
    if (utilTypes.isProxy(o) || Object.prototype.hasOwnProperty.call(o, key)) return 0;
    let p = Object.getPrototypeOf(o);
    for (let depth = 0; p && p !== Object.prototype && p !== Function.prototype && p !== Array.prototype && depth < 32; depth++) {
      if (utilTypes.isProxy(p)) return 0;
      if (Object.prototype.hasOwnProperty.call(p, key)) return this.props.get(p)?.get(key) ?? 0;
      p = Object.getPrototypeOf(p);
    }
    return 0;
  }

  get(site: number, o: any, lo: number, k: any): unknown {
    const seq = this.returnSeq;
    const v = o[k];
    if (seq !== this.returnSeq && sameValue(this.lastReturnValue, v)) {
      // a getter or a Proxy trap we instrumented produced the value
      this.L = this.lastReturnLabel ? this.arena.node1(site, 0, v, this.lastReturnLabel) : 0;
      return v;
    }
    this.L = typeof v === 'function' ? 0 : this.propLabel(site, o, lo, k, v);
    return v;
  }

  private returnSeq = 0;
  private lastReturnValue: unknown = undefined;
  private lastReturnLabel = 0;

  getOptional(site: number, o: any, lo: number, k: any): unknown {
    if (o === SHORT || o === null || o === undefined) {
      this.L = lo;
      return SHORT;
    }
    return this.get(site, o, lo, k);
  }

  getChained(site: number, o: any, lo: number, k: any): unknown {
    if (o === SHORT) return SHORT;
    return this.get(site, o, lo, k);
  }

  chainEnd(v: unknown): unknown {
    return v === SHORT ? undefined : v;
  }

  set(site: number, o: any, _lo: number, k: any, v: unknown): unknown {
    const l = this.L;
    // a setter or a Proxy trap we instrumented receives the value as its argument
    const f = newFrame(site, undefined, o, 0, false);
    f.args.push(v);
    f.labels.push(l);
    this.frames.push(f);
    try {
      o[k] = v;
    } finally {
      const i = this.frames.lastIndexOf(f);
      if (i >= 0) this.frames.length = i;
    }
    const c = this.ctl ? this.underControl(site, v, l) : l ? this.arena.node1(site, F_COPY, v, l) : 0;
    this.setProp(o, k, c);
    this.L = c;
    return v;
  }

  setOp(site: number, o: any, lo: number, k: any, b: any, lb: number): unknown {
    const a = o[k];
    const la = this.propLabel(site, o, lo, k, a);
    const v = this.binary(site, a, la, b, lb);
    o[k] = v;
    this.setProp(o, k, this.L);
    return v;
  }

  setStep(site: number, o: any, k: any, prefix: boolean, delta: number): unknown {
    const old = o[k];
    const l = this.propLabel(site, o, 0, k, old);
    const oldNumber = typeof old === 'bigint' ? old : +old;
    const v = typeof oldNumber === 'bigint' ? oldNumber + BigInt(delta) : (oldNumber as number) + delta;
    o[k] = v;
    this.L = l ? this.arena.node1(site, 0, v, l) : 0;
    this.setProp(o, k, this.L);
    return prefix ? v : oldNumber;
  }

  field<T>(site: number, obj: object, name: string, v: T): T {
    const l = this.L;
    if (l) this.shadow(obj).set(name, this.arena.node1(site, F_COPY, v, l));
    return v;
  }

  privateLabel(obj: object, name: string): number {
    return this.props.get(obj)?.get(name) ?? 0;
  }

  setPrivate(site: number, obj: object, name: string): void {
    const l = this.L;
    if (l === 0) this.props.get(obj)?.delete(name);
    else this.shadow(obj).set(name, site ? this.arena.node1(site, F_COPY, undefined, l) : l);
  }

  array(site: number, _mark: void, arr: unknown[]): unknown[] {
    // parts were pushed in element order; spreads are (-2, label) pairs
    const count = this.countParts(arr.length);
    const entries = this.parts.splice(this.parts.length - count, count);
    let index = 0;
    let spreadIndex = this.spreads.length - entries.filter((x) => x === -2).length;
    const spreads = this.spreads.splice(spreadIndex);
    spreadIndex = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e === -2) {
        const l = entries[++i]!;
        const src = spreads[spreadIndex++];
        const known = src && typeof src === 'object' ? this.iteratorSources.get(src) : undefined;
        const n = Array.isArray(src) ? src.length : typeof src === 'string' ? [...src].length : src instanceof Set || src instanceof Map ? src.size : known ? known.collection.size : arr.length - index;
        const labels = this.iteratedLabels(src, l, arr.slice(index, index + n));
        for (let j = 0; j < n; j++) {
          if (labels[j]) this.shadow(arr).set(String(index), labels[j]!);
          index++;
        }
      } else {
        if (e) this.shadow(arr).set(String(index), e);
        index++;
      }
    }
    this.L = 0;
    return arr;
  }

  /** How many parts entries an array or object literal pushed (spreads take two). */
  private countParts(_n: number): number {
    // walk back to the marker pushed by `mark`
    let i = this.parts.length - 1;
    while (i >= 0 && this.parts[i] !== -1) i--;
    const count = this.parts.length - 1 - i;
    this.parts.splice(i, 1); // drop the marker
    return count;
  }

  mark(): void {
    this.parts.push(-1);
  }

  object(site: number, keys: (string | null)[], _mark: void, obj: object): object {
    const count = this.countParts(keys.length);
    const entries = this.parts.splice(this.parts.length - count, count);
    const computed = keys.filter((k) => k === null).length;
    const computedKeys = this.keys.splice(this.keys.length - computed, computed);
    const spreadCount = keys.filter((k) => k === '...').length;
    const spreads = this.spreads.splice(this.spreads.length - spreadCount, spreadCount);
    let e = 0;
    let c = 0;
    let s = 0;
    for (const k of keys) {
      if (k === '...') {
        e++; // -2 marker
        const l = entries[e++]!;
        const src = spreads[s++];
        if (src && typeof src === 'object') {
          for (const key of Object.keys(src)) {
            const kl = this.propLabel(site, src, l, key, (src as any)[key]);
            if (kl) this.shadow(obj).set(key, kl);
          }
        }
        continue;
      }
      const key = k === null ? computedKeys[c++] : k;
      const l = entries[e++]!;
      if (l && key !== undefined) this.shadow(obj).set(typeof key === 'number' ? String(key) : (key as PropertyKey), l);
    }
    this.L = 0;
    return obj;
  }

  elementLabel(arr: unknown, i: number, base: number): number {
    if (arr && typeof arr === 'object') {
      const own = this.props.get(arr)?.get(String(i));
      if (own !== undefined) return own;
      return this.propLabel(this.internal('[]'), arr, base, String(i), (arr as any)[i]);
    }
    if (typeof arr === 'string') return base;
    return base;
  }

  path(label: number, value: unknown, path: (string | number)[], dflt = 0, bound?: unknown): number {
    let l = label;
    let v: any = value;
    for (const key of path) {
      if (key === '?') return l;
      if (v === null || v === undefined) return 0;
      if (typeof key === 'number' && !Array.isArray(v) && typeof v === 'object') {
        // array destructuring of another iterable: a Set's element, else what the bound value is
        if (v instanceof Set) return this.mapEntries.get(v)?.get(bound) ?? this.foreignLabel(bound);
        return this.foreignLabel(bound);
      }
      const next = v[key];
      l = this.propLabel(this.internal(`.${key}`), v, l, key, next);
      v = next;
    }
    if (v === undefined && dflt) return this.defaults.get(dflt)?.label ?? 0;
    return l;
  }

  /** The value and label of a default expression that was evaluated, by site. */
  private readonly defaults = new Map<number, { label: number; value: unknown }>();

  dflt<T>(site: number, v: T): T {
    this.defaults.set(site, { label: this.L, value: v });
    return v;
  }

  argLabel(frame: Frame, i: number, dflt: number): number {
    if (frame.args[i] === undefined && dflt) return this.defaults.get(dflt)?.label ?? 0;
    return frame.labels[i] ?? 0;
  }

  argValue(frame: Frame, i: number, dflt: number): unknown {
    if (frame.args[i] === undefined && dflt) return this.defaults.get(dflt)?.value;
    return frame.args[i];
  }

  /** A rest element: the rest object or array gets the shadows of what it took from the source. */
  rest(label: number, value: unknown, prefix: (string | number)[], restValue: unknown, from: number): number {
    let l = label;
    let v: any = value;
    for (const key of prefix) {
      if (v === null || v === undefined) return 0;
      const next = v[key];
      l = this.propLabel(this.internal(`.${key}`), v, l, key, next);
      v = next;
    }
    if (!restValue || typeof restValue !== 'object' || v === null || v === undefined) return 0;
    if (from >= 0 && Array.isArray(restValue)) {
      for (let j = 0; j < restValue.length; j++) this.setProp(restValue, String(j), this.elementLabel(v, from + j, l));
    } else {
      for (const k of Object.keys(restValue)) this.setProp(restValue, k, this.propLabel(this.internal(`.${k}`), v, l, k, v[k]));
    }
    return 0;
  }

  restLabel(frame: Frame, i: number, arr: unknown[]): number {
    if (Array.isArray(arr)) for (let j = 0; j < arr.length; j++) { const l = frame.labels[i + j]; if (l) this.shadow(arr).set(String(j), l); }
    return 0;
  }

  // ---------- iteration ----------

  *iter(site: number, iterable: any, label: number): Generator<unknown> {
    const isArray = Array.isArray(iterable);
    const isMap = iterable instanceof Map;
    const entries = isMap ? this.mapEntries.get(iterable) : undefined;
    let i = 0;
    for (const v of iterable) {
      let l = 0;
      if (isArray) l = this.elementLabel(iterable, i, label);
      else if (isMap) {
        const vl = entries?.get((v as unknown[])[0]) ?? 0;
        if (vl) this.shadow(v as object).set('1', vl);
        l = label;
      } else if (typeof iterable === 'string') l = label ? this.arena.node1(site, 0, v, label) : 0;
      else l = this.iteratedLabels(iterable, label, [v])[0]!;
      this.iterLabels.set(site, { label: l, value: v });
      i++;
      yield v;
    }
  }

  iterLabel(site: number): number {
    return this.iterLabels.get(site)?.label ?? 0;
  }

  iterValue(site: number): unknown {
    return this.iterLabels.get(site)?.value;
  }

  keyLabel(_site: number): number {
    return 0;
  }

  // ---------- calls ----------

  callSite<T>(site: number, fn: T): T {
    const f = newFrame(site, fn, undefined, 0, false);
    f.tracking = this.arena.tracking;
    f.callerCtl = this.ctl;
    f.inputMark = this.inputSeq;
    f.returnMark = this.returnSeq;
    this.frames.push(f);
    return fn;
  }

  method(site: number, recv: any, recvLabel: number): any {
    if (recv === SHORT) return undefined;
    const f = newFrame(site, undefined, recv, recvLabel, true);
    f.tracking = this.arena.tracking;
    f.callerCtl = this.ctl;
    f.inputMark = this.inputSeq;
    f.returnMark = this.returnSeq;
    const name = this.siteOp[site]!.slice(6);
    if (Array.isArray(recv)) {
      if (name === 'sort' || name === 'reverse' || name === 'shift' || name === 'unshift' || name === 'splice') {
        f.before = { values: recv.slice(), labels: recv.map((_, i) => this.elementLabel(recv, i, recvLabel)) };
      }
      if (ARRAY_CALLBACK_METHODS.has(name) || name === 'reduce' || name === 'reduceRight') f.returns = [];
    }
    if (COLLECTING_NAMES.has(name) && (typeof recv === 'string' || Array.isArray(recv) || recv === Array) && collectsReturns(calleeOf(recv, name))) {
      f.returns ??= [];
      f.returnValues = [];
    }
    this.frames.push(f);
    return recv;
  }

  arg<T>(v: T): T {
    const f = this.frames[this.frames.length - 1];
    if (f) {
      f.args.push(v);
      f.labels.push(this.L);
    }
    return v;
  }

  /** An instrumented function starts: its frame from the caller, or one built from what called it. */
  enter(site: number, n: number, ...params: unknown[]): Frame {
    const f = this.enterFrame(site, n, params);
    if (this.controlFlow) f.ctl = this.ctl; // a callee runs under its caller's conditions
    return f;
  }

  private enterFrame(site: number, n: number, params: unknown[]): Frame {
    if (this.inScope) this.arena.tracking = this.inScope();
    if (this.unstarted.length && this.generatorSites.has(site)) {
      // a generator's body starts on its first next(), long after the call that gave its arguments
      const call = this.startGenerator(params);
      if (call) {
        const f = newFrame(site, undefined, undefined, 0, false);
        f.entered = true;
        f.labels = call.labels.slice();
        f.args = params;
        this.frames.push(f);
        f.site = -site;
        return f;
      }
    }
    const top = this.frames[this.frames.length - 1];
    if (top && !top.entered && top.returns === null && this.matches(top, params, site)) {
      top.entered = true;
      return top;
    }
    const f = newFrame(site, undefined, undefined, 0, false);
    f.entered = true;
    // Called by something that is not instrumented: a built-in we model, a scheduled callback, a library.
    if (top && !top.entered && top.fn === Promise) {
      const node = ((top as any).promiseNode ??= this.arena.deferred(top.site, undefined));
      if (typeof params[0] === 'function') this.resolvers.set(params[0], node);
    } else if (top && !top.entered) {
      try {
        this.callbackLabels(top, f, params);
      } catch (err) {
        this.notes.add(`a callback at ${this.siteText(site)} could not be given its arguments' lineage (${(err as Error).message})`);
      }
    }
    else {
      const pending = this.pendingCallbacks.get(site);
      if (pending?.length) {
        const p = pending.shift()!;
        f.labels = p.labels.slice();
        f.deferred = p.deferred;
      }
    }
    for (let i = 0; i < n; i++) {
      if (!f.labels[i] && params[i] !== undefined) {
        // a driver's reply to a call made with this callback (pg's query(config, cb)): its rows depend on that call
        if (params[i] !== null && typeof params[i] === 'object' && this.callbackCalls.has(site) && isPgResult(params[i])) this.labelPgResult(params[i] as any, this.callbackCalls.get(site)!);
        const l = this.foreignLabel(params[i]);
        if (l) f.labels[i] = l;
      }
    }
    f.args = params;
    f.ret = 0;
    this.frames.push(f);
    f.site = -site; // a callee-owned frame: popped by `ret`
    return f;
  }

  /** The call that made the generator now starting: the latest unstarted one called with these values. */
  private startGenerator(params: unknown[]): { labels: number[] } | null {
    for (let i = this.unstarted.length - 1; i >= 0; i--) {
      const call = this.unstarted[i]!;
      if (params.length > 0 && givenArgumentsMatch(params, call.args)) {
        this.unstarted.splice(i, 1);
        return call;
      }
    }
    return null;
  }

  private matches(top: Frame, params: unknown[], site: number): boolean {
    const own = this.siteOp[site]!;
    const theirs = this.siteOp[top.site]!;
    if (own.length > 5 && theirs.length > 5) {
      const a = own.slice(5);
      const b = theirs.startsWith('call .') ? theirs.slice(6) : theirs.startsWith('new ') ? theirs.slice(4) : theirs.slice(5);
      if (b && a !== b && !(theirs.startsWith('new ') && a === 'constructor')) return false;
    }
    if (!givenArgumentsMatch(params, top.args)) return false;
    if (params.length === 0 && top.args.length !== 0) return false;
    return true;
  }

  /** The labels of a callback's parameters, from the built-in call that is running it. */
  private callbackLabels(top: Frame, f: Frame, params: unknown[]): void {
    const name = top.method ? this.siteOp[top.site]!.slice(6) : '';
    const recv = top.recv;
    if (Array.isArray(recv) && (ARRAY_CALLBACK_METHODS.has(name) || name === 'reduce' || name === 'reduceRight' || name === 'sort')) {
      // callbacks run in order, one per element: the index is how many ran before (when not a parameter)
      const calls = top.returns?.length ?? 0;
      if (name === 'reduce' || name === 'reduceRight') {
        const given = params[2];
        const i = typeof given === 'number' ? given : top.args.length > 1 ? calls : calls + 1;
        f.labels = [top.acc || (top.args.length > 1 ? top.labels[1]! : this.elementLabel(recv, 0, top.recvLabel)), this.elementLabel(recv, i, top.recvLabel)];
        if (params[1] === undefined) params[1] = recv[i]; // a destructured element: the prologue reads its value here
      } else if (name === 'sort') {
        const a = recv.indexOf(params[0]);
        const b = recv.indexOf(params[1]);
        f.labels = [a >= 0 ? this.elementLabel(recv, a, top.recvLabel) : 0, b >= 0 ? this.elementLabel(recv, b, top.recvLabel) : 0];
        return;
      } else {
        const i = typeof params[1] === 'number' ? params[1] : calls;
        f.labels = [this.elementLabel(recv, i, top.recvLabel), 0];
        if (params[0] === undefined) params[0] = recv[i]; // a destructured element: the prologue reads its value here
      }
      f.returns = top.returns;
      f.acc = -1; // marks "report the return to the builtin frame"
      (f as any).parent = top;
      return;
    }
    if (top.returnValues && !Array.isArray(recv)) {
      // a modelled built-in that wants its callbacks' returns (replace with a callback, Array.from with a map function)
      const calls = top.returns?.length ?? 0;
      if (typeof recv === 'string' && typeof params[0] === 'string') {
        const offset = params.findLast((p, i) => i > 0 && typeof p === 'number');
        f.labels = [typeof offset === 'number' ? this.rangeLabel(this.internal('match'), top.recvLabel, offset, offset + (params[0] as string).length, params[0]) : 0];
      } else if (recv === Array) {
        const src = top.args[0];
        f.labels = [Array.isArray(src) ? this.elementLabel(src, calls, top.labels[0] ?? 0) : 0, 0];
      }
      f.returns = top.returns;
      f.acc = -1;
      (f as any).parent = top;
      return;
    }
    if ((recv instanceof Map || recv instanceof Set) && name === 'forEach') {
      const entries = this.mapEntries.get(recv as object);
      f.labels = [entries?.get(params[recv instanceof Map ? 1 : 0]) ?? 0, 0];
      return;
    }
    if (name === 'emit') {
      f.labels = top.labels.slice(1);
      return;
    }
    if (name === 'call') {
      f.labels = top.labels.slice(1);
      return;
    }
    if (name === 'apply' && Array.isArray(top.args[1])) {
      f.labels = (top.args[1] as unknown[]).map((_, i) => this.elementLabel(top.args[1], i, top.labels[1] ?? 0));
      return;
    }
    // a modelled boundary with user callbacks (a library calling back synchronously): labels by value
    f.labels = params.map((p) => {
      const i = top.args.indexOf(p);
      return i >= 0 && p !== undefined && typeof p !== 'function' ? top.labels[i]! : 0;
    });
  }

  ret<T>(frame: Frame, v: T): T {
    if (frame.ctl) this.L = this.underControl(Math.abs(frame.site), v, this.L, frame.ctl);
    frame.ret = this.L;
    this.returnSeq++;
    this.lastReturnValue = v;
    this.lastReturnLabel = this.L;
    if (frame.deferred) this.arena.fill(frame.deferred, this.L);
    if (frame.site < 0) this.sendOut(v, this.L);
    if (frame.acc === -1 && (frame as any).parent?.returns) {
      const parent = (frame as any).parent as Frame;
      parent.returns!.push(this.L);
      parent.returnValues?.push(v);
      parent.acc = this.L;
    }
    this.popCallee(frame);
    return v;
  }

  private popCallee(frame: Frame): void {
    if (frame.site < 0) {
      const i = this.frames.lastIndexOf(frame);
      if (i >= 0) this.frames.length = i;
    }
  }

  /** After a call from instrumented code: the label of its result. */
  result<T>(site: number, v: T): T {
    let f = this.frames.pop();
    while (f && f.site !== site) f = this.frames.pop();
    if (!f) {
      this.L = 0;
      return v;
    }
    if (this.inScope) this.arena.tracking = f.tracking;
    if (this.controlFlow) this.ctl = f.callerCtl;
    if (!f.entered && isGenerator(v) && f.labels.some((l) => l)) {
      // an instrumented generator function was called: its body will want these arguments' labels
      this.unstarted.push({ args: f.args.slice(), labels: f.labels.slice() });
      if (this.unstarted.length > 64) this.unstarted.shift();
    }
    if (f.entered) {
      // an instrumented callee returned (or, for an async function, reached its first await)
      const op = site;
      if (v instanceof Promise && (f.ret === 0 || true)) {
        const d = this.arena.deferred(op, v);
        if (f.ret) this.arena.fill(d, f.ret);
        else f.deferred = d;
        this.promiseLabels.set(v, d);
        this.L = d;
      } else {
        this.L = f.ret ? this.arena.node1(op, 0, v, f.ret) : 0;
      }
      return v;
    }
    try {
      this.L = this.model(site, f, v);
    } catch (err) {
      // a model met a shape it did not expect: the program must not notice; the answer says so
      this.notes.add(`a call at ${this.siteText(site)} could not be modelled (${(err as Error).message}); its result has no lineage`);
      this.L = 0;
    }
    if (v && typeof v === 'object' && this.L && v instanceof Promise) this.promiseLabels.set(v, this.L);
    return v;
  }

  /** Built-in models: how a call that was not instrumented relates its result to its inputs. */
  private model(site: number, f: Frame, v: unknown): number {
    const arena = this.arena;
    const op = this.siteOp[site]!;
    const name = f.method ? op.slice(6) : op.startsWith('call ') ? op.slice(5) : op.startsWith('new ') ? op.slice(4) : op;
    const recv = f.recv;
    const inputs = this.inputsSince(f.inputMark, v);
    if (inputs >= 0) return inputs;
    for (let i = 0; i < f.args.length; i++) if (f.labels[i] || (f.args[i] && typeof f.args[i] === 'object')) this.sendOut(f.args[i], f.labels[i]!);
    // fn.call/apply, Reflect.apply, a library calling back: what an instrumented function returned came out
    if (this.returnSeq !== f.returnMark && sameValue(this.lastReturnValue, v) && this.lastReturnLabel && f.returns === null) {
      return this.arena.node1(site, 0, v, this.lastReturnLabel);
    }
    const resolving = typeof f.fn === 'function' ? this.resolvers.get(f.fn) : undefined;
    if (resolving) {
      this.arena.fill(resolving, f.labels[0] ?? 0);
      return 0;
    }
    const registered = this.registeredModel(site, f, v, name);
    if (registered !== null) return registered;
    // ---- functions of the global object ----
    if (!f.method) {
      if (NUMBER_FUNCTIONS.has(name) && f.fn === (globalThis as any)[name]) return this.derived(site, v, f.labels[0] ?? 0, `${name}()`);
      if (name === 'setTimeout' || name === 'setInterval' || name === 'setImmediate' || name === 'queueMicrotask') {
        const cb = f.args[0] as object;
        const extra = name === 'setTimeout' || name === 'setInterval' ? f.labels.slice(2) : f.labels.slice(1);
        const resolves = typeof cb === 'function' ? this.resolvers.get(cb) : undefined;
        if (resolves) this.arena.fill(resolves, extra[0] ?? 0);
        this.expectCallback(cb, extra, 0);
        return 0;
      }
      if (f.fn === Promise && v instanceof Promise) return (f as any).promiseNode ?? 0;
      if ((v instanceof Map || v instanceof Set) && (f.fn === Map || f.fn === Set) && Array.isArray(f.args[0])) {
        const src = f.args[0] as unknown[];
        const entries = this.fields<unknown>(v);
        src.forEach((entry, i) => {
          const el = this.elementLabel(src, i, f.labels[0] ?? 0);
          if (v instanceof Map) {
            const l = Array.isArray(entry) ? this.elementLabel(entry, 1, el) : 0;
            if (l) entries.set((entry as unknown[])[0], l);
          } else if (el) entries.set(entry, el);
        });
        this.mapEntries.set(v, entries);
        return 0;
      }
    }
    // ---- methods ----
    if (f.method) {
      if (recv === Math) return this.derivedAll(site, v, f.labels, `Math.${name}`);
      if (recv === JSON) {
        if (name === 'parse') {
          if (v && typeof v === 'object') this.labelJson(v as object, f.labels[0] ?? 0, f.args[0]);
          return this.derived(site, v, f.labels[0] ?? 0, 'JSON.parse');
        }
        if (name === 'stringify') return this.stringifyLabel(site, v, f.args[0], f.labels[0] ?? 0);
      }
      if (recv === Number || recv === Object || recv === Array || recv === String || recv === Promise || recv === Buffer) {
        return this.staticModel(site, recv, name, f, v);
      }
      if (recv === process && name === 'nextTick') {
        const resolves = this.resolvers.get(f.args[0] as object);
        if (resolves) this.arena.fill(resolves, f.labels[1] ?? 0);
        this.expectCallback(f.args[0] as object, f.labels.slice(1), 0);
        return 0;
      }
      if (typeof recv === 'string') return this.stringModel(site, recv, name, f, v);
      if (typeof recv === 'number' || typeof recv === 'bigint') return this.derivedAll(site, v, [f.recvLabel, ...f.labels], `.${name}()`);
      if (Array.isArray(recv)) {
        const l = this.arrayModel(site, recv, name, f, v);
        if (l !== null) return l;
      }
      if (recv instanceof Map || recv instanceof Set) return this.collectionModel(site, recv, name, f, v);
      if (recv instanceof RegExp && (name === 'exec' || name === 'test') && typeof f.args[0] === 'string') {
        if (name === 'test') return this.derivedAll(site, v, [f.labels[0] ?? 0], '.test()');
        if (Array.isArray(v)) this.labelMatch(site, f.args[0] as string, f.labels[0] ?? 0, v as RegExpExecArray);
        return 0;
      }
      if (recv instanceof Promise) return this.promiseModel(site, recv, name, f, v);
      if (name === 'next' && isGenerator(recv) && v && typeof v === 'object' && !(v instanceof Promise)) {
        // { value, done }: the value is what the body's yield handed out (a return is an instrumented return)
        const y = this.lastYield;
        const value = (v as { value?: unknown }).value;
        const label = y && y.value === value ? y.label : this.returnSeq !== f.returnMark && this.lastReturnValue === value ? this.lastReturnLabel : 0;
        this.lastYield = null;
        if (label) this.setProp(v, 'value', label);
        return 0;
      }
      if (Buffer.isBuffer(recv) && name === 'toString') {
        const l = this.derived(site, v, f.recvLabel, '.toString()');
        return l;
      }
      if (name === 'call' && typeof recv === 'function') return 0;
      if (name === 'emit' || name === 'on' || name === 'once' || name === 'addListener' || name === 'push' || name === 'write' || name === 'end' || name === 'send' || name === 'json') {
        return 0;
      }
    }
    // ---- not modelled: the result depends on everything that went in ----
    if (v === undefined || typeof v === 'function' || v === null) return 0;
    const all = f.method ? [f.recvLabel, ...f.labels] : f.labels.slice();
    // what arrays and objects passed in hold (query parameters, options) is an input too
    for (const a of f.args) {
      if (!a || typeof a !== 'object') continue;
      const m = this.props.get(a);
      if (!m) continue;
      let n = 0;
      for (const l of m.values()) {
        if (n++ >= 16) break;
        all.push(l);
      }
    }
    for (const a of f.args) {
      // one level deeper (a query's config object holds its parameter array)
      if (!a || typeof a !== 'object' || Array.isArray(a)) continue;
      let n = 0;
      for (const k of Object.keys(a)) {
        if (n++ >= 16) break;
        const d = Object.getOwnPropertyDescriptor(a, k);
        const inner = d && 'value' in d ? d.value : undefined;
        if (!Array.isArray(inner)) continue;
        inner.forEach((_, i) => { if (i < 16) all.push(this.elementLabel(inner, i, 0)); });
      }
    }
    let any = false;
    for (const l of all) if (l) any = true;
    if (!any) {
      const foreign = this.foreignLabel(v);
      return foreign;
    }
    // an argument with no lineage of its own is not nothing: it went in, from somewhere unknown
    for (let i = 0; i < f.args.length; i++) {
      const a = f.args[i];
      if (!f.labels[i] && (typeof a === 'string' || typeof a === 'number') && !(f.method && i === 0 && typeof f.recv === 'function')) all.push(this.unknownLabel(a));
    }
    const l = arena.node(site, F_IMPRECISE, v, all);
    for (const a of f.args) {
      const fnSite = typeof a === 'function' ? this.fnSites.get(a) : undefined;
      if (fnSite !== undefined) this.callbackCalls.set(fnSite, l);
    }
    if (v && typeof v === 'object' && !(v instanceof Promise)) this.bases.set(v as object, l);
    return l;
  }

  /** A leaf for a value that went into an unmodelled call with no lineage: its origin is not known. */
  private unknownLabel(v: unknown): number {
    return this.arena.origin(this.internal('unknown origin'), v, { kind: 'unknown', detail: 'unknown origin: this value had no lineage where it went into a call that is not modelled' }, F_IMPRECISE);
  }

  /** A model of models/ registered for the function called (also through .call and .apply), or null. */
  private registeredModel(site: number, f: Frame, v: unknown, name: string): number | null {
    let fn = f.method ? calleeOf(f.recv, name) : f.fn;
    let call: Call = { site, fn, recv: f.method ? f.recv : undefined, recvLabel: f.method ? f.recvLabel : 0, args: f.args, labels: f.labels, returns: f.returns, returnValues: f.returnValues };
    if (f.method && (name === 'call' || name === 'apply') && typeof f.recv === 'function' && modelOf(f.recv)) {
      fn = f.recv;
      const list = name === 'call' ? f.args.slice(1) : Array.isArray(f.args[1]) ? (f.args[1] as unknown[]) : [];
      const labels = name === 'call' ? f.labels.slice(1) : list.map((_, i) => this.elementLabel(list, i, f.labels[1] ?? 0));
      call = { ...call, fn, recv: f.args[0], recvLabel: f.labels[0] ?? 0, args: list, labels };
    }
    const model = modelOf(fn);
    return model ? model(this, call, v) : null;
  }

  private isPromiseConstructor(fn: unknown): boolean {
    return fn === Promise;
  }

  private derived(site: number, v: unknown, l: number, op: string): number {
    if (!l) return 0;
    const out = this.arena.node1(site, 0, v, l);
    this.arena.opNames.set(out, op);
    if (v && typeof v === 'object') this.bases.set(v as object, out);
    return out;
  }

  derivedAll(site: number, v: unknown, labels: number[], op: string): number {
    let any = false;
    for (const l of labels) if (l) any = true;
    if (!any) return 0;
    const out = this.arena.node(site, 0, v, labels);
    if (!op.startsWith('.')) this.arena.opNames.set(out, STRING_METHODS.has(op) || op === 'split' || op === 'replace' || op === 'replaceAll' ? `.${op}()` : op);
    else this.arena.opNames.set(out, op);
    return out;
  }

  /** True while instrumented code is calling JSON.parse itself (the call's model labels the result). */
  userCallingJsonParse(): boolean {
    const top = this.frames[this.frames.length - 1];
    return !!top && !top.entered && top.recv === JSON;
  }

  private staticModel(site: number, recv: unknown, name: string, f: Frame, v: unknown): number {
    if (recv === Number && (name === 'parseFloat' || name === 'parseInt' || name === 'isFinite' || name === 'isInteger' || name === 'isNaN')) return this.derived(site, v, f.labels[0] ?? 0, name);
    if (recv === Object) {
      const src = f.args[0];
      if (name === 'assign' && src && typeof src === 'object') {
        for (let i = 1; i < f.args.length; i++) {
          const from = f.args[i];
          if (from && typeof from === 'object') for (const k of Object.keys(from)) { const l = this.propLabel(site, from, f.labels[i] ?? 0, k, (from as any)[k]); if (l) this.shadow(src).set(k, l); }
        }
        return f.labels[0] ?? 0;
      }
      if ((name === 'values' || name === 'entries' || name === 'keys') && src && typeof src === 'object' && Array.isArray(v)) {
        const keys = Object.keys(src);
        keys.forEach((k, i) => {
          const l = this.propLabel(site, src, f.labels[0] ?? 0, k, (src as any)[k]);
          if (!l) return;
          if (name === 'values') this.shadow(v).set(String(i), l);
          else if (name === 'entries') this.shadow((v as any)[i]).set('1', l);
        });
        return 0;
      }
      if (name === 'fromEntries' && v && typeof v === 'object' && Array.isArray(src)) {
        src.forEach((entry, i) => {
          const el = this.elementLabel(src, i, f.labels[0] ?? 0);
          const l = this.propLabel(site, entry, el, '1', entry?.[1]);
          if (l) this.shadow(v).set(String(entry?.[0]), l);
        });
        return 0;
      }
      if (name === 'freeze' || name === 'seal') return f.labels[0] ?? 0;
    }
    if (recv === Array && name === 'from' && Array.isArray(v)) {
      const src = f.args[0];
      if (Array.isArray(src)) src.forEach((_, i) => { const l = this.elementLabel(src, i, f.labels[0] ?? 0); if (l) this.shadow(v).set(String(i), l); });
      else if (src instanceof Set || src instanceof Map) {
        const entries = this.mapEntries.get(src);
        let i = 0;
        for (const x of src as Iterable<unknown>) { const l = src instanceof Set ? entries?.get(x) : 0; if (l) this.shadow(v).set(String(i), l); i++; }
      }
      return 0;
    }
    if (recv === Promise) {
      if ((name === 'all' || name === 'allSettled' || name === 'race' || name === 'any') && Array.isArray(f.args[0]) && v instanceof Promise) {
        const arr = f.args[0] as unknown[];
        const labels = arr.map((p, i) => (p instanceof Promise ? this.promiseLabels.get(p) ?? 0 : this.elementLabel(arr, i, f.labels[0] ?? 0)));
        if (name === 'all') this.promiseElements.set(v, labels);
        return this.arena.node(site, 0, v, labels);
      }
      if (name === 'resolve' && v instanceof Promise) return f.labels[0] ? this.arena.node1(site, 0, v, f.labels[0]) : 0;
    }
    if (recv === Buffer && name === 'from') return this.derived(site, v, f.labels[0] ?? 0, 'Buffer.from');
    if (recv === String && (name === 'fromCharCode' || name === 'raw')) return this.derivedAll(site, v, f.labels, name);
    return this.derivedAll(site, v, f.labels, name);
  }

  private stringModel(site: number, s: string, name: string, f: Frame, v: unknown): number {
    const arena = this.arena;
    if (name === 'split' && Array.isArray(v)) {
      if (f.recvLabel) {
        let at = 0;
        const sep = f.args[0];
        (v as string[]).forEach((piece, i) => {
          const start = typeof sep === 'string' ? s.indexOf(piece, at) : -1;
          const label = start >= 0 ? this.rangeLabel(site, f.recvLabel, start, start + piece.length, piece) : arena.node1(site, 0, piece, f.recvLabel);
          if (label) this.shadow(v).set(String(i), label);
          if (start >= 0) at = start + piece.length;
        });
      }
      return 0;
    }
    if ((name === 'match' || name === 'matchAll') && v && typeof v === 'object') {
      if (f.recvLabel && Array.isArray(v)) this.labelMatch(site, s, f.recvLabel, v as RegExpMatchArray);
      return 0;
    }
    if ((name === 'slice' || name === 'substring' || name === 'substr') && typeof v === 'string' && f.recvLabel) {
      let start = Number(f.args[0] ?? 0);
      if (start < 0) start = Math.max(0, s.length + start);
      if (name === 'substring') start = Math.min(start, Number(f.args[1] ?? s.length));
      const l = this.rangeLabel(site, f.recvLabel, start, start + v.length, v);
      return f.labels.some((x) => x) ? arena.node(site, 0, v, [l, ...f.labels]) : l;
    }
    if (name === 'replace' && typeof v === 'string' && typeof f.args[1] === 'string' && !/\$/.test(f.args[1] as string)) {
      // one replacement: the characters before and after the match keep their own lineage
      const pattern = f.args[0];
      let at = -1;
      let len = 0;
      if (typeof pattern === 'string') {
        at = s.indexOf(pattern);
        len = pattern.length;
      } else if (pattern instanceof RegExp && !pattern.global) {
        const m = new RegExp(pattern.source, pattern.flags.replace('y', '')).exec(s);
        if (m) {
          at = m.index;
          len = m[0].length;
        }
      }
      if (at >= 0) {
        const replacement = f.args[1] as string;
        const pieces = [
          { len: at, label: this.rangeLabel(site, f.recvLabel, 0, at, v) },
          { len: replacement.length, label: f.labels[1] ?? 0 },
          { len: s.length - at - len, label: this.rangeLabel(site, f.recvLabel, at + len, s.length, v) },
        ];
        const labels = pieces.filter((p) => p.len > 0).map((p) => p.label);
        if (!labels.some((x) => x)) return 0;
        const out = arena.node(site, 0, v, labels);
        this.concats.set(out, { lengths: pieces.map((p) => p.len), labels: pieces.map((p) => p.label) });
        this.arena.opNames.set(out, '.replace()');
        return out;
      }
    }
    if (name === 'replace' || name === 'replaceAll') return this.derivedAll(site, v, [f.recvLabel, ...f.labels], name);
    if (STRING_METHODS.has(name) || name === 'includes' || name === 'startsWith' || name === 'endsWith' || name === 'indexOf' || name === 'search' || name === 'localeCompare' || name === 'length') {
      return this.derivedAll(site, v, [f.recvLabel, ...f.labels], name);
    }
    return this.derivedAll(site, v, [f.recvLabel, ...f.labels], name);
  }

  /** A regular expression match: each group gets the lineage of the characters it matched (found after the match's start). */
  private labelMatch(site: number, s: string, label: number, m: RegExpMatchArray): void {
    if (!label) return;
    const base = m.index ?? 0;
    const rangeOf = (g: string, from: number) => {
      const start = s.indexOf(g, from);
      return start >= 0 ? this.rangeLabel(site, label, start, start + g.length, g) : this.arena.node1(site, 0, g, label);
    };
    let cursor = base;
    m.forEach((g, i) => {
      if (g === undefined) return;
      const l = rangeOf(g, i === 0 ? base : cursor);
      if (i > 0) cursor = Math.max(cursor, s.indexOf(g, cursor) + g.length);
      this.shadow(m).set(String(i), l);
    });
    if (m.groups) {
      for (const [k, g] of Object.entries(m.groups)) {
        if (g === undefined) continue;
        const i = m.findIndex((x, j) => j > 0 && x === g);
        this.shadow(m.groups).set(k, i > 0 ? this.shadow(m).get(String(i))! : rangeOf(g, base));
      }
    }
  }

  private arrayModel(site: number, arr: unknown[], name: string, f: Frame, v: unknown): number | null {
    const arena = this.arena;
    const rl = f.recvLabel;
    switch (name) {
      case 'push':
      case 'unshift': {
        if (name === 'push') {
          const start = arr.length - f.args.length;
          f.labels.forEach((l, i) => this.setProp(arr, String(start + i), l));
        } else this.reindex(arr, f.before!, f.labels, 0, 0, f.args.length);
        return 0;
      }
      case 'pop': {
        const l = this.props.get(arr)?.get(String(arr.length)) ?? (rl ? arena.node1(site, 0, v, rl) : 0);
        this.props.get(arr)?.delete(String(arr.length));
        return l;
      }
      case 'shift': {
        const l = f.before!.labels[0] ?? 0;
        this.reindex(arr, f.before!, [], 1, 0, 0);
        return l;
      }
      case 'splice': {
        const start = Number(f.args[0] ?? 0) < 0 ? Math.max(0, f.before!.values.length + Number(f.args[0])) : Math.min(Number(f.args[0] ?? 0), f.before!.values.length);
        const removed = Array.isArray(v) ? v.length : 0;
        if (Array.isArray(v)) for (let i = 0; i < removed; i++) this.setProp(v, String(i), f.before!.labels[start + i] ?? 0);
        this.reindexSplice(arr, f.before!, start, removed, f.labels.slice(2));
        return 0;
      }
      case 'sort':
      case 'reverse': {
        // match the elements after the call to where they were before
        const used = new Array(f.before!.values.length).fill(false);
        for (let i = 0; i < arr.length; i++) {
          let j = f.before!.values.findIndex((x, k) => !used[k] && (x === arr[i] || (Number.isNaN(x) && Number.isNaN(arr[i]))));
          if (j < 0) j = i;
          used[j] = true;
          this.setProp(arr, String(i), f.before!.labels[j] ?? 0);
        }
        return rl;
      }
      case 'map':
      case 'flatMap':
        if (Array.isArray(v) && f.returns) f.returns.forEach((l, i) => this.setProp(v, String(i), l));
        return 0;
      case 'filter':
        if (Array.isArray(v)) {
          let j = 0;
          for (let i = 0; i < arr.length && j < v.length; i++) if (arr[i] === v[j]) this.setProp(v, String(j++), this.elementLabel(arr, i, rl));
        }
        return 0;
      case 'find':
      case 'findLast': {
        const i = name === 'find' ? arr.indexOf(v) : arr.lastIndexOf(v);
        return i >= 0 ? this.elementLabel(arr, i, rl) : 0;
      }
      case 'reduce':
      case 'reduceRight':
        return f.acc > 0 ? arena.node1(site, 0, v, f.acc) : f.returns && f.returns.length ? arena.node1(site, 0, v, f.returns[f.returns.length - 1]!) : 0;
      case 'forEach':
        return 0;
      case 'slice':
      case 'concat':
      case 'flat':
      case 'toSorted':
      case 'toReversed':
        if (Array.isArray(v)) {
          const sources: [unknown[], number][] = [[arr, rl], ...f.args.map((a, i): [unknown[], number] => [Array.isArray(a) ? a : [a], f.labels[i] ?? 0])];
          for (let i = 0; i < v.length; i++) {
            for (const [src, l] of sources) {
              const j = src.indexOf(v[i]);
              if (j >= 0) {
                const el = Array.isArray(src) && src !== f.args[0] || src === arr ? this.elementLabel(src, j, l) : l;
                this.setProp(v, String(i), el);
                break;
              }
            }
          }
        }
        return 0;
      case 'join': {
        const labels = arr.map((_, i) => this.elementLabel(arr, i, rl));
        if (!labels.some((x) => x)) return 0;
        const out = arena.node(site, 0, v, labels);
        const sep = f.args[0] === undefined ? ',' : String(f.args[0]);
        const lengths: number[] = [];
        const parts: number[] = [];
        arr.forEach((el, i) => {
          if (i > 0) { lengths.push(sep.length); parts.push(f.labels[0] ?? 0); }
          lengths.push(el === null || el === undefined ? 0 : typeof el === 'object' ? -1 : String(el).length);
          parts.push(labels[i]!);
        });
        if (!lengths.includes(-1)) this.concats.set(out, { lengths, labels: parts });
        this.arena.opNames.set(out, '.join()');
        return out;
      }
      case 'at':
      case 'indexOf':
      case 'includes':
        if (name === 'at') {
          let i = Number(f.args[0]);
          if (i < 0) i += arr.length;
          return this.elementLabel(arr, i, rl);
        }
        return 0;
      case 'some':
      case 'every':
      case 'findIndex':
        return 0;
      case 'entries':
      case 'values':
      case 'keys':
        return rl;
    }
    return null;
  }

  private reindex(arr: unknown[], before: { labels: number[] }, inserted: number[], removedFront: number, _a: number, _b: number): void {
    const labels = [...inserted, ...before.labels.slice(removedFront)];
    const m = this.props.get(arr);
    if (m) for (const k of [...m.keys()]) if (typeof k === 'string' && /^\d+$/.test(k)) m.delete(k);
    labels.forEach((l, i) => this.setProp(arr, String(i), l));
  }

  private reindexSplice(arr: unknown[], before: { labels: number[] }, start: number, removed: number, inserted: number[]): void {
    const labels = [...before.labels.slice(0, start), ...inserted, ...before.labels.slice(start + removed)];
    const m = this.props.get(arr);
    if (m) for (const k of [...m.keys()]) if (typeof k === 'string' && /^\d+$/.test(k)) m.delete(k);
    labels.forEach((l, i) => this.setProp(arr, String(i), l));
  }

  private collectionModel(site: number, c: Map<unknown, unknown> | Set<unknown>, name: string, f: Frame, v: unknown): number {
    let entries = this.mapEntries.get(c);
    if (!entries) this.mapEntries.set(c, (entries = this.fields<unknown>(c)));
    switch (name) {
      case 'set':
        if (f.labels[1]) entries.set(f.args[0], this.arena.node1(site, F_COPY, f.args[1], f.labels[1]));
        else entries.delete(f.args[0]);
        return f.recvLabel;
      case 'add':
        if (f.labels[0]) entries.set(f.args[0], f.labels[0]);
        return f.recvLabel;
      case 'get':
        return entries.get(f.args[0]) ?? 0;
      case 'delete':
        entries.delete(f.args[0]);
        return 0;
      case 'values':
      case 'entries':
      case 'keys':
        if (v && typeof v === 'object') this.iteratorSources.set(v, { collection: c, kind: name });
        return 0;
    }
    return 0;
  }

  /** Iterators of Maps and Sets made by instrumented code, for the labels of what they yield. */
  private readonly iteratorSources = new WeakMap<object, { collection: Map<unknown, unknown> | Set<unknown>; kind: string }>();

  /** Labels of the values an iterable yields, when we know where they come from (an array, a Map, a Set, one of their iterators). */
  private iteratedLabels(src: unknown, label: number, values: unknown[]): number[] {
    if (Array.isArray(src)) return values.map((_, j) => this.elementLabel(src, j, label));
    const known = src && typeof src === 'object' ? this.iteratorSources.get(src) : undefined;
    const collection = src instanceof Map || src instanceof Set ? src : known?.collection;
    const kind = known?.kind ?? (src instanceof Map ? 'entries' : 'values');
    if (collection) {
      const entries = this.mapEntries.get(collection);
      return values.map((x) => {
        if (collection instanceof Map) {
          if (kind === 'entries' && Array.isArray(x)) {
            const l = entries?.get(x[0]) ?? 0;
            if (l) this.shadow(x).set('1', l);
            return 0;
          }
          if (kind === 'values') {
            for (const [k, val] of collection) if (val === x) return entries?.get(k) ?? 0;
          }
          return 0;
        }
        return entries?.get(x) ?? 0;
      });
    }
    return values.map(() => label);
  }

  private promiseModel(site: number, p: Promise<unknown>, name: string, f: Frame, v: unknown): number {
    if (name === 'then' || name === 'catch' || name === 'finally') {
      const pl = this.promiseLabels.get(p) ?? f.recvLabel;
      const d = v instanceof Promise ? this.arena.deferred(site, v) : 0;
      const onFulfilled = f.args[0];
      const onRejected = name === 'then' ? f.args[1] : name === 'catch' ? f.args[0] : undefined;
      if (name !== 'catch' && typeof onFulfilled === 'function') {
        if (this.fnSites.has(onFulfilled)) this.expectCallback(onFulfilled, name === 'finally' ? [] : [pl], d);
        else if (d) this.arena.fill(d, pl); // a built-in (Number, String): the value goes through it
      }
      if (typeof onRejected === 'function' && onRejected !== onFulfilled) this.expectCallback(onRejected, [pl], d);
      if (d && name === 'finally') this.arena.fill(d, pl);
      return d;
    }
    return 0;
  }

  setParts(out: number, lengths: number[], labels: number[]): void {
    if (out > 1) this.concats.set(out, { lengths, labels });
  }

  setRangeMap(out: number, src: number, map: (start: number, end: number) => [number, number]): void {
    if (out > 1) this.rangeMaps.set(out, { src, map });
  }

  promiseLabel(p: unknown): number {
    return p && typeof p === 'object' ? (this.promiseLabels.get(p) ?? 0) : 0;
  }

  resolverNode(fn: unknown): number | undefined {
    return typeof fn === 'function' ? this.resolvers.get(fn) : undefined;
  }

  entriesOf(c: object): Map<unknown, number> | undefined {
    return this.mapEntries.get(c);
  }

  expectCallback(cb: unknown, labels: number[], deferred: number): void {
    if (typeof cb !== 'function') return;
    const s = this.fnSites.get(cb);
    if (s === undefined) return;
    let q = this.pendingCallbacks.get(s);
    if (!q) this.pendingCallbacks.set(s, (q = []));
    if (q.length > 10_000) q.shift();
    q.push({ labels, deferred });
  }

  private stringifyLabel(site: number, v: unknown, value: unknown, l: number): number {
    if (typeof v !== 'string') return 0;
    const labels = [l];
    const visit = (x: unknown, depth: number) => {
      if (!x || typeof x !== 'object' || depth > 6 || labels.length > 200) return;
      const m = this.props.get(x);
      if (m) for (const lab of m.values()) labels.push(lab);
      for (const k of Object.keys(x)) visit((x as any)[k], depth + 1);
    };
    visit(value, 0);
    return this.derivedAll(site, v, labels, 'JSON.stringify');
  }

  // ---------- await, throw ----------

  awaited(site: number, v: unknown, l: number, p: unknown, frame?: Frame | null): unknown {
    if (this.inScope) this.arena.tracking = this.inScope();
    if (this.controlFlow) this.ctl = (frame ?? this.moduleFrame).ctl;
    let label = p instanceof Promise ? this.promiseLabels.get(p) ?? l : l;
    if (Array.isArray(v) && p instanceof Promise) {
      const els = this.promiseElements.get(p);
      if (els) els.forEach((el, i) => this.setProp(v, String(i), el || this.foreignLabel((v as unknown[])[i])));
    }
    if (v && typeof v === 'object' && isPgResult(v)) {
      // the rows a query returned: each column's value comes from the recorded reply, and which row it is depends on the query
      this.labelPgResult(v as any, label);
      this.L = 0;
      return v;
    }
    if (isMysqlResult(v)) {
      this.labelMysqlResult((v as unknown[][])[0] as object[], label);
      this.L = 0;
      return v;
    }
    // what an unmodelled call resolved to may still be found among the inputs (response.text())
    const foreign = label === 0 || this.arena.flags[label]! & F_IMPRECISE ? this.foreignLabel(v) : 0;
    // the very value an input handed over (not a match by content): that input is where it came from
    const exact = foreign > 1 && this.arena.origins.has(foreign) && !(this.arena.flags[foreign]! & F_MATCHED);
    if (foreign && foreign !== label) label = label && !exact ? this.arena.node2(site, 0, v, foreign, label) : foreign;
    this.L = label ? this.arena.node1(site, F_SAME, v, label) : 0;
    return v;
  }

  /** A `for await` loop resumed (its body, or the code after it): the async context may have changed. */
  resumed<T>(v: T, frame?: Frame | null): T {
    if (this.inScope) this.arena.tracking = this.inScope();
    if (this.controlFlow) this.ctl = (frame ?? this.moduleFrame).ctl;
    return v;
  }

  thrown<T>(v: T): T {
    this.lastThrown = v;
    this.lastThrownLabel = this.L;
    return v;
  }

  caught(v: unknown): number {
    if (v === this.lastThrown) return this.lastThrownLabel;
    if (v instanceof Error && typeof v.message === 'string') return 0;
    return 0;
  }

  depth(): number {
    return this.frames.length * 1e6 + this.parts.length;
  }

  unwind(d: number): void {
    const frames = Math.floor(d / 1e6);
    const parts = d % 1e6;
    if (this.frames.length > frames) this.frames.length = frames;
    if (this.parts.length > parts) this.parts.length = parts;
  }

  // ---------- inputs: what the recording hands to the program ----------

  /** Told by the replayer of every recorded value it hands over. */
  observeInput(channel: string, event: number, value: unknown, reqId: number | undefined, requestChannel: string | undefined, args: unknown): void {
    if (channel === 'process.env') {
      this.envEvent = event;
      return;
    }
    if (channel === 'deliver') {
      const rc = requestChannel ?? '';
      // What a delivery holds, and what kind of input it is, the channel catalog says.
      const delivers = familyOf(rc)?.delivers;
      if (delivers === 'socket') {
        if (Array.isArray(value) && value[0] === SOCKET_DELIVERY.DATA && Buffer.isBuffer(value[2])) {
          const bytes = value[2] as Buffer;
          const label = this.arena.origin(this.internal('input'), bytes, { kind: 'socket', event, channel: rc, reqId, range: [0, bytes.length] });
          this.inputObjects.set(bytes, label);
          this.rememberBytes(label, bytes);
          this.chunks.push({ event, reqId: reqId ?? -1, channel: rc, bytes, label });
          this.chunkBytes += bytes.length;
          while (this.chunks.length > 4096 || this.chunkBytes > 16 * 1024 * 1024) this.chunkBytes -= this.chunks.shift()!.bytes.length;
        }
        return;
      }
      if (delivers) {
        const requested = this.requestArgs.get(reqId ?? -1);
        if ((rc === 'fs.open' || rc === 'fs.promises.open') && Array.isArray(value) && typeof value[1] === 'number') this.rememberFd(value[1], requested);
        const origin: Origin = { kind: delivers, event, channel: rc, detail: `${rc}${requested !== undefined ? ' ' + this.fileOf(requested) : ''}` };
        this.registerInput(origin, value, event);
      }
      return;
    }
    const kind = familyOf(channel)?.origin;
    let origin: Origin | null = null;
    if (channel === 'random.Math.random') origin = { kind: 'random', event, channel, detail: `Math.random #${++this.randomCount}` };
    else if (kind === 'time') origin = { kind, event, channel, detail: channel.slice(channel.indexOf('.') + 1) };
    else if (kind === 'file') {
      if (channel === 'fs.openSync' && typeof value === 'number') this.rememberFd(value, args);
      origin = { kind, event, channel, detail: `${channel} ${this.fileOf(args)}` };
    }
    else if (kind === 'stdin') origin = { kind, event, channel };
    else if (kind) origin = { kind, event, channel, detail: channel };
    if (!origin) return;
    this.registerInput(origin, value, event);
  }

  /** The node of the latest unmodelled call given an instrumented callback, by the callback's site (what its reply answers). */
  private readonly callbackCalls = new Map<number, number>();

  /** Paths of the files the program opened, by descriptor: what an fs.read of a stream read from. */
  private readonly fdPaths = new Map<number, string>();

  private rememberFd(fd: number, args: unknown): void {
    const file = describeArgs(args);
    if (!file) return;
    this.fdPaths.set(fd, file);
    if (this.fdPaths.size > 1000) this.fdPaths.delete(this.fdPaths.keys().next().value!);
  }

  /** The file a call's arguments name: a path, or the path a descriptor was opened on. */
  private fileOf(args: unknown): string {
    const named = describeArgs(args);
    if (named || !Array.isArray(args) || typeof args[0] !== 'number') return named;
    return this.fdPaths.get(args[0]) ?? `descriptor ${args[0]}`;
  }

  /** Request arguments by id (a file path for fs.readFile), for the words of its deliveries. */
  readonly requestArgs = new Map<number, unknown>();

  noteRequest(channel: string, reqId: number, args: unknown): void {
    const delivers = familyOf(channel)?.delivers;
    if (delivers === 'file' || delivers === 'stdin') {
      this.requestArgs.set(reqId, args);
      if (this.requestArgs.size > 1000) this.requestArgs.delete(this.requestArgs.keys().next().value!);
    }
  }

  private registerInput(origin: Origin, value: unknown, _event: number): void {
    // a callback's (err, data) delivery: the leaf shows the data it read
    const shown = Array.isArray(value) && value.length === 2 && value[0] == null && (typeof value[1] === 'string' || Buffer.isBuffer(value[1])) ? value[1] : value;
    const label = this.arena.origin(this.internal('input'), shown, origin);
    const seq = ++this.inputSeq;
    this.inputLog.push({ seq, label, value });
    if (this.inputLog.length > 64) this.inputLog.shift();
    const reg = (v: unknown, depth: number): void => {
      if (depth > 2 || v === null || v === undefined) return;
      if (typeof v === 'string') {
        if (v.length >= 2) this.rememberString(v, label);
      } else if (typeof v === 'object') {
        if (!this.inputObjects.has(v)) this.inputObjects.set(v, label);
        if (Buffer.isBuffer(v)) this.rememberChunk(origin, v, label);
        else if (Array.isArray(v)) for (const x of v) reg(x, depth + 1);
      }
    };
    reg(value, 0);
  }

  private rememberString(s: string, label: number): void {
    this.inputStrings.set(s, label);
    if (this.inputStrings.size > 512) this.inputStrings.delete(this.inputStrings.keys().next().value!);
  }

  private rememberChunk(origin: Origin, bytes: Buffer, label: number): void {
    this.chunks.push({ event: origin.event ?? -1, reqId: -1, channel: origin.channel ?? '', bytes, label });
    this.chunkBytes += bytes.length;
    while (this.chunks.length > 4096 || this.chunkBytes > 16 * 1024 * 1024) this.chunkBytes -= this.chunks.shift()!.bytes.length;
  }

  /** The label of an input that arrived during a call and is what it returned, or -1. */
  /** A value leaves instrumented code through a channel we cannot follow (yield): remember its label by value. */
  out<T>(v: T): T {
    this.sendOut(v, this.L);
    this.lastYield = { value: v, label: this.L };
    return v;
  }

  /** The value the last `yield` handed out, and its label: what a generator's next() returns. */
  private lastYield: { value: unknown; label: number } | null = null;

  private sendOut(v: unknown, label: number): void {
    if (v && typeof v === 'object') {
      const m = this.props.get(v);
      if (m) {
        let n = 0;
        for (const [k, l] of m) {
          if (n++ > 100) break;
          const x = (v as any)[k];
          if (typeof x === 'string' || typeof x === 'number') this.sendOut(x, l);
        }
      }
    }
    if (!label) return;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') {
      this.outbound.delete(v);
      this.outbound.set(v, label);
      if (this.outbound.size > 2048) this.outbound.delete(this.outbound.keys().next().value);
    } else if (v && typeof v === 'object' && !this.bases.has(v)) this.bases.set(v, label);
  }

  private inputsSince(mark: number, v: unknown): number {
    if (this.inputSeq === mark) return -1;
    const found: number[] = [];
    for (let i = this.inputLog.length - 1; i >= 0; i--) {
      const e = this.inputLog[i]!;
      if (e.seq <= mark) break;
      if (e.value === v || (typeof v === 'object' && v !== null && this.inputObjects.get(v) === e.label)) return e.label;
      found.push(e.label);
    }
    if (found.length && v !== undefined && (typeof v !== 'object' || v === null || !(v instanceof Promise))) {
      // the call read the outside world and returned something made of it: link all, imprecisely
      if (typeof v === 'string' || typeof v === 'number') return this.arena.node(this.internal('call'), F_IMPRECISE, v, found);
    }
    return -1;
  }

  /** A value that arrived from code we do not instrument: an input it is, or contains, or matches. */
  foreignLabel(v: unknown): number {
    if (v === null || v === undefined) return 0;
    if (typeof v === 'object') {
      const own = this.inputObjects.get(v);
      if (own) return own;
      if (this.bases.has(v)) return this.bases.get(v)!;
      if (isPgResult(v)) {
        this.labelPgResult(v as any);
        return 0;
      }
      // bytes a library cut out of a recorded chunk (an HTTP body through the parser)
      if (Buffer.isBuffer(v) && v.length >= 4) {
        const l = this.matchContent(v);
        if (l) this.inputObjects.set(v, l);
        return l;
      }
      return 0;
    }
    const out = this.outbound.get(v);
    // a primitive that left instrumented code and came back through code we do not follow: the
    // same value, so very likely the same one, but matched by value, and the answer says so
    if (out) return this.arena.node1(this.internal('matched by value'), F_MATCHED | F_SAME, v, out);
    if (typeof v === 'string') {
      const known = this.inputStrings.get(v);
      if (known) return known;
      if (v.length >= 4) return this.matchContent(v);
    }
    return 0;
  }

  /** Finds a string among the recent recorded bytes: the input it was decoded from. */
  private readonly matchCache = new Map<string, number>();
  /**
   * Inputs of non-ASCII text, for the byte ranges of their parts (character offset → byte offset).
   * The most recent 16 MB of such inputs are kept; an older one gets character offsets, as ASCII would.
   */
  private readonly byteConverters = new Map<number, { offsets: (charOffset: number) => number; size: number }>();
  private byteConverterSize = 0;

  private rememberBytes(label: number, text: string | Buffer): void {
    if (typeof text === 'string' ? !/[^\x00-\x7f]/.test(text) : isAscii(text)) return;
    let offsets: ((i: number) => number) | null = null;
    const size = text.length;
    // decoded on first use: most inputs are never sliced
    this.byteConverters.set(label, { size, offsets: (i) => (offsets ??= byteOffsets(typeof text === 'string' ? text : text.toString('utf8')))(i) });
    this.byteConverterSize += size;
    while (this.byteConverterSize > 16 * 1024 * 1024 && this.byteConverters.size > 1) {
      const [oldest, entry] = this.byteConverters.entries().next().value!;
      this.byteConverters.delete(oldest);
      this.byteConverterSize -= entry.size;
    }
  }
  matchContent(s: string | Buffer): number {
    if (this.chunks.length === 0) return 0;
    const cached = typeof s === 'string' ? this.matchCache.get(s) : undefined;
    if (cached !== undefined) return cached;
    let result = 0;
    const needle = typeof s === 'string' ? Buffer.from(s.length > 4096 ? s.slice(0, 4096) : s, 'utf8') : s.subarray(0, 4096);
    for (let i = this.chunks.length - 1; i >= 0 && i >= this.chunks.length - 512; i--) {
      const c = this.chunks[i]!;
      const at = c.bytes.indexOf(needle);
      if (at >= 0) {
        const base = this.arena.origins.get(c.label)!;
        const len = typeof s === 'string' ? Buffer.byteLength(s) : s.length;
        result = this.arena.origin(this.internal('input'), s, { ...base, range: [at, at + len] }, s.length > 4096 ? F_MATCHED | F_IMPRECISE : F_MATCHED);
        this.rememberBytes(result, s);
        break;
      }
    }
    if (typeof s === 'string') {
      if (this.matchCache.size > 2048) this.matchCache.clear();
      this.matchCache.set(s, result);
    }
    return result;
  }

  private envLabel(name: string, v: unknown): number {
    let l = this.envLabels.get(name);
    if (l === undefined) {
      l = this.arena.origin(this.internal('input'), v, { kind: 'env', event: this.envEvent >= 0 ? this.envEvent : undefined, detail: `env ${name}` });
      this.envLabels.set(name, l);
    }
    return l;
  }

  // ---------- JSON and SQL results ----------

  /** Gives a JSON.parse result the lineage of its text: per path, down to the input's bytes when it is one. */
  labelJson(result: object, textLabel: number, text: unknown): void {
    let label = textLabel;
    if (!label && typeof text === 'string') label = this.foreignLabel(text);
    if (!label) return;
    const origin = this.arena.origins.get(label) ?? null;
    // Where each member is in the text: needed to narrow a member to the part of a composed text
    // it came from, or to the bytes of an input; computed on the first member read.
    let ranges: Map<string, [number, number]> | null | undefined;
    const lazy = {
      get ranges(): Map<string, [number, number]> | null {
        if (ranges === undefined) {
          ranges = null;
          // a composed text needs them to tell its parts apart; an input only for the byte range of a member
          if (typeof text === 'string' && text.length <= (origin ? 65_536 : 1_000_000) && (!origin || origin.kind !== 'literal')) {
            try {
              ranges = jsonLeafRanges(text);
            } catch {
              ranges = null;
            }
          }
        }
        return ranges;
      },
    };
    const bytes = typeof text === 'string' ? byteOffsets(text) : (i: number) => i;
    this.jsonBases.set(result, { label, path: '$', origin, bytes, get ranges() { return lazy.ranges; } });
  }

  private jsonChild(o: object, base: JsonBase, key: string, v: unknown): number {
    const path = Array.isArray(o) ? `${base.path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${base.path}.${key}` : `${base.path}[${JSON.stringify(key)}]`;
    let l: number;
    if (v && typeof v === 'object') {
      const r = base.ranges?.get(path);
      l = base.origin
        ? this.arena.origin(this.internal('input'), v, { ...base.origin, jsonPath: path })
        : this.arena.node1(this.internal(`JSON.parse ${path}`), 0, v, r ? this.rangeLabel(this.internal(`JSON ${path}`), base.label, r[0], r[1], v) : base.label);
      this.jsonBases.set(v, { label: base.label, origin: base.origin, path, bytes: base.bytes, get ranges() { return base.ranges; } });
    } else if (base.origin) {
      const r = base.ranges?.get(path);
      // the member's characters, as bytes of the input (UTF-8: not one byte per character)
      const range: [number, number] | undefined = r && base.origin.range ? [base.origin.range[0] + base.bytes(r[0]), base.origin.range[0] + base.bytes(r[1])] : base.origin.range;
      l = this.arena.origin(this.internal('input'), v, { ...base.origin, jsonPath: path, range });
    } else {
      const r = base.ranges?.get(path);
      const src = r ? this.rangeLabel(this.internal(`JSON ${path}`), base.label, r[0], r[1], v) : base.label;
      const narrowed = this.arena.origins.get(src);
      if (narrowed && narrowed.kind !== 'literal' && narrowed.kind !== 'outside' && src !== base.label) {
        // the member's characters are all from one input: the leaf names its JSON path
        narrowed.jsonPath = path;
        l = src;
      } else l = this.arena.node1(this.internal(`JSON.parse ${path}`), 0, v, src);
    }
    this.shadow(o).set(key, l);
    return l;
  }

  /** The label of characters [start, end) of a string whose label is `label`: through concatenations to their parts. */
  rangeLabel(site: number, label: number, start: number, end: number, v: unknown): number {
    if (label === 0) return 0;
    // through plain copies to the operation that made the string
    let at = label;
    while (this.arena.flags[at]! & (F_COPY | F_SAME)) {
      const ins = this.arena.inputs(at);
      if (ins.length !== 1) break;
      at = ins[0]!;
    }
    const encoded = this.rangeMaps.get(at);
    if (encoded) {
      const [from, to] = encoded.map(start, end);
      return this.rangeLabel(site, encoded.src, from, to, v);
    }
    const parts = this.concats.get(at);
    if (parts) {
      const inside: number[] = [];
      // the part's own layout, so that a range of the part (a split after a trim) narrows again
      const layout: number[] = [];
      const layoutLabels: number[] = [];
      let offset = 0;
      for (let i = 0; i < parts.lengths.length; i++) {
        const len = parts.lengths[i]!;
        const from = Math.max(start, offset);
        const to = Math.min(end, offset + len);
        if (from < to || (len === 0 && start === offset && end === offset)) {
          const l = parts.labels[i]!;
          const part = l ? this.rangeLabel(site, l, from - offset, to - offset, v) : 0;
          if (part) inside.push(part);
          layout.push(to - from);
          layoutLabels.push(part);
        }
        offset += len;
      }
      if (inside.length === 1 && layout.length === 1) return inside[0]!;
      if (!inside.length) return 0;
      const out = this.arena.node(site, 0, v, inside);
      this.setParts(out, layout, layoutLabels);
      return out;
    }
    label = at;
    const origin = this.arena.origins.get(label);
    if (origin && origin.kind !== 'literal') {
      const base = origin.range ? origin.range[0] : 0;
      // characters of text decoded from bytes: their bytes, where the text is not ASCII
      const bytes = this.byteConverters.get(label)?.offsets;
      const part = this.arena.origin(this.internal('input'), v, { ...origin, range: bytes ? [base + bytes(start), base + bytes(end)] : [base + start, base + end] });
      if (bytes && typeof v === 'string') this.rememberBytes(part, v);
      return part;
    }
    return this.arena.node1(site, 0, v, label);
  }

  private labelPgResult(r: { rows: object[]; fields: { name: string }[] }, query = 0): void {
    // the most recent chunk of PostgreSQL protocol from the server (DataRow / CommandComplete)
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i]!;
      if (looksLikePgResponse(c.bytes)) {
        const origin: Origin = { kind: 'sql', event: c.event, channel: c.channel, reqId: c.reqId };
        r.rows.forEach((row, j) => {
          if (row && typeof row === 'object') this.sqlRows.set(row, { origin, row: j, query });
        });
        this.bases.set(r, 0);
        return;
      }
    }
  }

  /** mysql2's [rows, fields]: rows from the most recent reply on a client socket that is not HTTP. */
  private labelMysqlResult(rows: object[], query: number): void {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i]!;
      if (!(c.channel.endsWith('.connect')) || c.bytes.subarray(0, 5).toString('latin1') === 'HTTP/') continue;
      const origin: Origin = { kind: 'sql', protocol: 'mysql', event: c.event, channel: c.channel, reqId: c.reqId };
      rows.forEach((row, j) => {
        if (row && typeof row === 'object') this.sqlRows.set(row, { origin, row: j, query });
      });
      return;
    }
  }

  // ---------- the probe ----------

  probe(_site: number, evaluate: () => unknown): void {
    const savedL = this.L;
    const savedFrames = this.frames.length;
    const savedParts = this.parts.length;
    this.hits++;
    const wanted = this.control.hit;
    if (wanted !== 'last' && this.hits !== wanted) return;
    let snap: Snapshot;
    const place = this.control.place();
    try {
      this.L = 0;
      const value = evaluate();
      snap = { value, label: this.L, hit: this.hits, place };
    } catch (err) {
      snap = { value: undefined, label: 0, hit: this.hits, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), place };
    } finally {
      this.frames.length = savedFrames;
      this.parts.length = savedParts;
      this.L = savedL;
    }
    this.snapshot = snap;
    this.control.onHit(snap, wanted !== 'last');
  }

  get lastSnapshot(): Snapshot | null {
    return this.snapshot;
  }
}

/** What a JSON.parse result came from: its text's label and origin, and where each member is in the text. */
interface JsonBase {
  label: number;
  path: string;
  origin: Origin | null;
  ranges: Map<string, [number, number]> | null;
  /** The UTF-8 byte offset of a character offset of the text. */
  bytes: (charOffset: number) => number;
}

/**
 * Character offset → UTF-8 byte offset in `text`. Nothing is done until the first offset is asked
 * for (every JSON.parse gets one, few are asked); then ASCII text maps to itself and other text
 * gets a table.
 */
function byteOffsets(text: string): (charOffset: number) => number {
  let table: Uint32Array | null | undefined; // undefined: not looked at yet; null: ASCII
  return (i) => {
    if (table === undefined) table = /[^\x00-\x7f]/.test(text) ? utf8OffsetTable(text) : null;
    return table ? table[Math.min(i, text.length)]! : i;
  };
}

function utf8OffsetTable(text: string): Uint32Array {
  const table = new Uint32Array(text.length + 1);
  let b = 0;
  for (let k = 0; k < text.length; k++) {
    table[k] = b;
    const c = text.charCodeAt(k);
    // a surrogate pair is 4 bytes: counted on its first half
    b += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? 4 : c >= 0xdc00 && c < 0xe000 ? 0 : 3;
  }
  table[text.length] = b;
  return table;
}

/** The same value as far as a call's arguments go: === but NaN equals NaN. */
function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/** Whether the parameters a function received are the arguments of a call (a parameter it got as undefined, a destructured one, matches anything). */
function givenArgumentsMatch(params: unknown[], args: unknown[]): boolean {
  for (let i = 0; i < params.length; i++) if (params[i] !== undefined && !sameValue(args[i], params[i])) return false;
  return true;
}

function isGenerator(v: unknown): boolean {
  if (!v || typeof v !== 'object') return false;
  const tag = Object.prototype.toString.call(v);
  return tag === '[object Generator]' || tag === '[object AsyncGenerator]';
}

function isMysqlResult(v: unknown): boolean {
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || !Array.isArray(v[1]) || v[1].length === 0) return false;
  return (v[1][0] as { constructor?: { name?: string } } | null)?.constructor?.name === 'ColumnDefinition';
}

function isPgResult(v: unknown): boolean {
  const r = v as { rows?: unknown; fields?: unknown; command?: unknown };
  return Array.isArray(r.rows) && Array.isArray(r.fields) && typeof r.command === 'string';
}

/** A chunk of bytes a PostgreSQL server sends: backend messages (type byte, int32 length) with DataRow or CommandComplete. */
export function looksLikePgResponse(b: Buffer): boolean {
  let at = 0;
  let sawRows = false;
  while (at + 5 <= b.length) {
    const type = String.fromCharCode(b[at]!);
    if (!/[A-Za-z123]/.test(type)) return false;
    const len = b.readInt32BE(at + 1);
    if (len < 4) return false;
    if (type === 'D' || type === 'C' || type === 'T') sawRows = true;
    at += 1 + len;
  }
  return sawRows;
}

function literalText(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  return String(v);
}

function describeArgs(args: unknown): string {
  if (!Array.isArray(args)) return '';
  const first = args.find((a) => typeof a === 'string');
  return typeof first === 'string' ? first : '';
}

/** The function `recv[name]` holds, found without running a getter or a Proxy trap (undefined when it cannot be). */
function calleeOf(recv: unknown, name: string): unknown {
  if (recv === null || recv === undefined) return undefined;
  let o: any = typeof recv === 'object' || typeof recv === 'function' ? recv : Object(recv);
  for (let depth = 0; o && depth < 32; depth++) {
    if (utilTypes.isProxy(o)) return undefined;
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (d) return 'value' in d ? d.value : undefined;
    o = Object.getPrototypeOf(o);
  }
  return undefined;
}
