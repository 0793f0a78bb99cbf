// The lineage graph: one node per operation a value went through, in typed arrays (no object per
// node). A node has a site (the operation and its source location), flags, a value display and its
// inputs. Under the memory cap the arena switches to summaries: from then on a new operation at a
// site merges into that site's one summary node, so memory stays bounded by the program's size
// rather than its running time, and the answer says it was degraded.

export const F_COPY = 1;
export const F_IMPRECISE = 2;
export const F_ORIGIN = 4;
export const F_SUMMARY = 8;
export const F_MATCHED = 16;
/** --control: a condition that decided which code ran (an if, a ?:, a || that fell through). */
export const F_CONTROL = 32;
/** The value passes through unchanged (an await, a promise's resolution): a range of it is a range of its input. */
export const F_SAME = 64;

/** The one node that stands for every value computed where lineage was not being made (scoped provenance). */
export const OUTSIDE = 1;

/** Inputs kept per summary node: beyond that the summary says it dropped some. */
const SUMMARY_FAN_IN = 32;

export interface Origin {
  kind: string;
  event?: number;
  channel?: string;
  reqId?: number;
  /** Words known in the process (env name, Math.random count, literal, file path). */
  detail?: string;
  /** Where in a recorded chunk of bytes or a string. */
  range?: [number, number];
  /** JSON path inside the input, when it was parsed as JSON. */
  jsonPath?: string;
  /** A database row and column, and the protocol ('mysql'; PostgreSQL when absent). */
  protocol?: string;
  row?: number;
  column?: string;
  /** A literal's location. */
  at?: string;
}

export class Arena {
  size = 1; // label 0 means "no lineage"
  private capacity = 4096;
  site = new Int32Array(this.capacity);
  flags = new Uint8Array(this.capacity);
  edgeStart = new Int32Array(this.capacity);
  edgeCount = new Int32Array(this.capacity);
  edges = new Int32Array(this.capacity * 2);
  edgeSize = 0;
  values: unknown[] = [undefined];
  readonly origins = new Map<number, Origin>();
  /** Operation names of nodes made by built-in models ("Number()", "JSON.parse"), when the site's own name is not it. */
  readonly opNames = new Map<number, string>();
  /** Summary mode: the summary node of each site, and its inputs. */
  summarizing = false;
  summaryAt = 0;
  private readonly summaryBySite = new Map<number, number>();
  readonly summaryInputs = new Map<number, Set<number>>();
  summaryDropped = false;

  /**
   * Scoped provenance: false while code outside the traced request runs. Operations then make no
   * nodes; their results carry OUTSIDE, so a value that crosses into the traced code from there is
   * seen to come from outside (and `why` widens the scope) instead of silently having no lineage.
   * Origins are still made: inputs are heard in whatever context delivers them.
   */
  tracking = true;

  constructor(readonly maxNodes: number) {
    const outside = this.alloc(0, F_ORIGIN, undefined, 0);
    this.values[outside] = { [OBJECT_DESCRIPTION]: '…' }; // not known: no lineage was made where it was computed
    this.origins.set(outside, { kind: 'outside', detail: 'computed outside the traced request (in another request or connection of the server)' });
  }

  /**
   * Breadth first from `from` through the inputs: `visit` sees each node reached once (`from` too)
   * and returns false to stop the walk; at most `limit` nodes are visited.
   */
  walk(from: number, visit: (id: number) => boolean, limit = Infinity): void {
    if (from <= 0) return;
    const seen = new Uint8Array(this.size);
    const queue = [from];
    seen[from] = 1;
    for (let i = 0; i < queue.length && i < limit; i++) {
      const id = queue[i]!;
      if (!visit(id)) return;
      for (const x of this.inputs(id)) {
        if (!seen[x]) {
          seen[x] = 1;
          queue.push(x);
        }
      }
    }
  }

  /** Whether `label`'s lineage reaches OUTSIDE (looked up in the graph, not the drawn tree, which is cut). */
  reachesOutside(label: number): boolean {
    let reached = false;
    this.walk(label, (id) => !(reached = id === OUTSIDE));
    return reached;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.site = g32(this.site);
    this.edgeStart = g32(this.edgeStart);
    this.edgeCount = g32(this.edgeCount);
    const f = new Uint8Array(cap);
    f.set(this.flags);
    this.flags = f;
    this.capacity = cap;
  }

  private growEdges(need: number): void {
    let cap = this.edges.length;
    while (cap < this.edgeSize + need) cap *= 2;
    const b = new Int32Array(cap);
    b.set(this.edges);
    this.edges = b;
  }

  private alloc(site: number, flags: number, value: unknown, count: number): number {
    if (this.size >= this.capacity) this.grow();
    if (this.edgeSize + count > this.edges.length) this.growEdges(count);
    const id = this.size++;
    this.site[id] = site;
    this.flags[id] = flags;
    this.edgeStart[id] = this.edgeSize;
    this.edgeCount[id] = count;
    this.edgeSize += count;
    this.values[id] = display(value);
    return id;
  }

  /** A node whose inputs are `inputs` (zeros dropped). */
  node(site: number, flags: number, value: unknown, inputs: ArrayLike<number>): number {
    if (!this.tracking) return OUTSIDE;
    if (this.summarizing || this.size >= this.maxNodes) return this.summary(site, flags, value, inputs);
    let count = 0;
    for (let i = 0; i < inputs.length; i++) if (inputs[i]! > 0) count++;
    const id = this.alloc(site, flags, value, count);
    let at = this.edgeStart[id]!;
    for (let i = 0; i < inputs.length; i++) if (inputs[i]! > 0) this.edges[at++] = inputs[i]!;
    return id;
  }

  node1(site: number, flags: number, value: unknown, a: number): number {
    if (!this.tracking) return a > 0 ? OUTSIDE : 0;
    if (this.summarizing || this.size >= this.maxNodes) return this.summary(site, flags, value, [a]);
    const id = this.alloc(site, flags, value, a > 0 ? 1 : 0);
    if (a > 0) this.edges[this.edgeStart[id]!] = a;
    return id;
  }

  node2(site: number, flags: number, value: unknown, a: number, b: number): number {
    if (!this.tracking) return OUTSIDE;
    if (this.summarizing || this.size >= this.maxNodes) return this.summary(site, flags, value, [a, b]);
    const count = (a > 0 ? 1 : 0) + (b > 0 && b !== a ? 1 : 0);
    const id = this.alloc(site, flags, value, count);
    let at = this.edgeStart[id]!;
    if (a > 0) this.edges[at++] = a;
    if (b > 0 && b !== a) this.edges[at] = b;
    return id;
  }

  /** A node with one input to fill in later (an async function's result). */
  deferred(site: number, value: unknown): number {
    if (!this.tracking) return OUTSIDE;
    if (this.summarizing || this.size >= this.maxNodes) return this.summary(site, 0, value, []);
    const id = this.alloc(site, F_SAME, value, 1);
    this.edges[this.edgeStart[id]!] = 0;
    return id;
  }

  fill(id: number, input: number): void {
    if (id === OUTSIDE) return;
    if (this.flags[id]! & F_SUMMARY) {
      this.addSummaryInput(id, input);
      return;
    }
    if (this.edgeCount[id] === 1) this.edges[this.edgeStart[id]!] = input;
  }

  origin(site: number, value: unknown, origin: Origin, flags = 0): number {
    // Origins are never summarized: they are what the answer is about, and there are few.
    if (origin.kind === 'outside') return OUTSIDE; // a part of what came from outside is still from outside
    const id = this.alloc(site, F_ORIGIN | flags, value, 0);
    this.origins.set(id, origin);
    return id;
  }

  private summary(site: number, flags: number, value: unknown, inputs: ArrayLike<number>): number {
    if (!this.summarizing) {
      this.summarizing = true;
      this.summaryAt = this.size;
    }
    let id = this.summaryBySite.get(site);
    if (id === undefined) {
      id = this.alloc(site, flags | F_SUMMARY, value, 0);
      this.summaryBySite.set(site, id);
      this.summaryInputs.set(id, new Set());
    } else {
      this.values[id] = display(value);
    }
    for (let i = 0; i < inputs.length; i++) this.addSummaryInput(id, inputs[i]!);
    return id;
  }

  private addSummaryInput(id: number, input: number): void {
    if (input <= 0 || input === id) return;
    const set = this.summaryInputs.get(id)!;
    if (set.has(input)) return;
    if (set.size >= SUMMARY_FAN_IN) {
      this.summaryDropped = true;
      return;
    }
    set.add(input);
  }

  inputs(id: number): number[] {
    if (this.flags[id]! & F_SUMMARY) return [...(this.summaryInputs.get(id) ?? [])];
    const out: number[] = [];
    const start = this.edgeStart[id]!;
    for (let i = 0; i < this.edgeCount[id]!; i++) {
      const x = this.edges[start + i]!;
      if (x > 0) out.push(x);
    }
    return out;
  }

  /** Approximate bytes held. */
  get bytes(): number {
    return this.site.byteLength * 3 + this.flags.byteLength + this.edges.byteLength + this.size * 16;
  }
}

/** What a node keeps of a value: primitives (long strings cut), a short description of objects. */
export function display(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
      return v.length > 120 ? `${v.slice(0, 117)}…` + `\u0000${v.length}` : v;
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return v;
    case 'symbol':
      return `[${String(v)}]`;
    case 'function':
      return `[Function${(v as { name?: string }).name ? ': ' + (v as { name: string }).name : ''}]`;
    default:
      if (v === null) return null;
      if (OBJECT_DESCRIPTION in (v as object)) return v; // already a description
      return describeObject(v as object);
  }
}

const OBJECT_DESCRIPTION = Symbol('object');

function describeObject(o: object): { [OBJECT_DESCRIPTION]: string } {
  let text: string;
  try {
    if (Array.isArray(o)) text = `Array(${o.length})`;
    else if (Buffer.isBuffer(o)) text = `<Buffer ${o.subarray(0, 12).toString('hex').replace(/(..)/g, '$1 ').trim()}${o.length > 12 ? ' …' : ''}> (${o.length} bytes)`;
    else if (o instanceof Promise) text = 'Promise';
    else if (o instanceof Map) text = `Map(${o.size})`;
    else if (o instanceof Set) text = `Set(${o.size})`;
    else {
      const name = (o as { constructor?: { name?: string } }).constructor?.name;
      const keys: string[] = [];
      let more = false;
      for (const k in o) {
        if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
        if (keys.length === 4) {
          more = true;
          break;
        }
        keys.push(k);
      }
      text = `${name && name !== 'Object' ? name + ' ' : ''}{${keys.join(', ')}${more ? ', …' : ''}}`;
    }
  } catch {
    text = '[object]';
  }
  return { [OBJECT_DESCRIPTION]: text };
}

/** A node's value as text, at most `max` characters. */
export function showValue(v: unknown, max = 80): string {
  let s: string;
  if (v && typeof v === 'object' && OBJECT_DESCRIPTION in v) s = (v as { [OBJECT_DESCRIPTION]: string })[OBJECT_DESCRIPTION];
  else if (typeof v === 'string') {
    const cut = v.indexOf('\u0000');
    s = cut >= 0 ? JSON.stringify(v.slice(0, cut)).replace(/…"$/, '…"') + ` (${v.slice(cut + 1)} chars)` : JSON.stringify(v);
  } else if (typeof v === 'bigint') s = `${v}n`;
  else s = String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
