// From the lineage graph to the tree `retrace why` prints: copy chains folded, shared subtrees
// expanded within a budget, cycles (possible between summaries) cut.
import { F_CONTROL, F_COPY, F_IMPRECISE, F_MATCHED, F_SUMMARY, showValue, type Origin } from './arena.js';
import type { ProvenanceRuntime } from './runtime.js';

export interface LineageNode {
  value: string;
  op: string;
  at?: string;
  via?: number;
  /** Where the value was last stored (the latest of the folded copies: an assignment, a declaration, an argument), when it was copied. */
  stored?: string;
  imprecise?: true;
  summary?: true;
  /** --control: a condition that decided which code ran. */
  control?: true;
  origin?: Origin & { detail?: string };
  inputs: LineageNode[];
}

export interface TreeLimits {
  maxNodes: number;
  maxDepth: number;
}

export function buildTree(rt: ProvenanceRuntime, label: number, value: unknown, limits: TreeLimits, notes: Set<string>): LineageNode {
  const arena = rt.arena;
  let budget = limits.maxNodes;
  // Breadth first, so the budget goes to the levels nearest the value before any one deep chain.
  interface Pending {
    at: number;
    node: LineageNode;
    depth: number;
    parent: Pending | null;
  }
  const make = (id: number, shown: unknown): { node: LineageNode; at: number } => {
    budget--;
    let via = 0;
    let at = id;
    const stored = arena.flags[id]! & F_COPY ? siteLocation(rt, arena.site[id]!) : null;
    while (arena.flags[at]! & F_COPY) {
      const ins = arena.inputs(at);
      if (ins.length !== 1) break;
      via++;
      at = ins[0]!;
    }
    const flags = arena.flags[at]!;
    const site = arena.site[at]!;
    const origin = arena.origins.get(at);
    const node: LineageNode = {
      value: showValue(shown !== undefined ? shown : arena.values[id]),
      op: origin ? (origin.kind === 'literal' ? 'literal' : 'input') : opName(rt, at, site),
    } as LineageNode;
    const loc = siteLocation(rt, site);
    if (loc && !(origin && origin.kind !== 'literal')) node.at = loc;
    if (via) node.via = via;
    if (stored) node.stored = stored;
    if (flags & (F_IMPRECISE | F_MATCHED)) node.imprecise = true;
    if (flags & F_CONTROL) node.control = true;
    if (flags & F_SUMMARY) {
      node.summary = true;
      notes.add('summary');
    }
    if (origin) node.origin = { ...origin };
    node.inputs = [];
    return { node, at };
  };
  const onPath = (p: Pending, at: number) => {
    for (let q: Pending | null = p; q; q = q.parent) if (q.at === at) return true;
    return false;
  };
  if (label === 0) return { value: showValue(shown(value)), op: 'no lineage', inputs: [] };
  const rootMade = make(label, shown(value));
  const queue: Pending[] = [{ at: rootMade.at, node: rootMade.node, depth: 0, parent: null }];
  let cut = false;
  for (let i = 0; i < queue.length; i++) {
    const item = queue[i]!;
    const inputs = arena.inputs(item.at);
    if (!inputs.length) continue;
    if (budget <= 0) {
      cut = true;
      continue;
    }
    if (item.depth >= limits.maxDepth) {
      notes.add('depth');
      cut = true;
      continue;
    }
    for (const input of inputs) {
      if (budget <= 0) {
        cut = true;
        break;
      }
      const child = make(input, undefined);
      item.node.inputs.push(child.node);
      if (!onPath(item, child.at)) queue.push({ at: child.at, node: child.node, depth: item.depth + 1, parent: item });
    }
  }
  if (cut) {
    // what was not drawn still counts: list the kinds of origin the whole lineage reaches
    notes.add('budget');
    const drawn = new Set<string>();
    for (const n of walk(rootMade.node)) if (n.origin) drawn.add(originKey(n.origin));
    const extra: LineageNode = { value: '…', op: 'not drawn: further origins the lineage reaches', inputs: [] };
    for (const o of reachableOrigins(rt, rootMade.at, 400)) {
      const key = originKey(arena.origins.get(o)!);
      if (drawn.has(key) || extra.inputs.length >= 40) continue;
      drawn.add(key);
      extra.inputs.push(make(o, undefined).node);
    }
    if (extra.inputs.length) rootMade.node.inputs.push(extra);
  }
  return rootMade.node;
}

/** Origins that differ only in array indexes count as one kind of origin. */
function originKey(o: Origin): string {
  return [o.kind, o.channel ?? '', o.event ?? '', o.detail ?? '', (o.jsonPath ?? '').replace(/\[\d+\]/g, '[*]'), o.column ?? ''].join('|');
}

/** Origins reachable from a node (breadth first, each once, at most `max`). */
function reachableOrigins(rt: ProvenanceRuntime, from: number, max: number): number[] {
  const found: number[] = [];
  rt.arena.walk(
    from,
    (id) => {
      if (id !== from && rt.arena.origins.has(id)) found.push(id);
      return found.length < max;
    },
    5_000_000,
  );
  return found;
}

function shown(v: unknown): unknown {
  return v === undefined ? undefined : displayLike(v);
}

import { display } from './arena.js';
function displayLike(v: unknown): unknown {
  return display(v);
}

export function opName(rt: ProvenanceRuntime, id: number, site: number): string {
  const named = rt.arena.opNames.get(id);
  if (named) return named;
  const op = rt.siteOp[site] ?? '?';
  if (op.startsWith('call .')) return `.${op.slice(6)}()`;
  if (op === 'call') return 'call';
  return op;
}

export function siteLocation(rt: ProvenanceRuntime, site: number): string | undefined {
  const file = rt.siteFile[site]!;
  if (file < 0 || site === 0) return undefined;
  return `${rt.files[file]}:${rt.siteLine[site]}:${rt.siteColumn[site]}`;
}

/** Every node of a tree, depth first. */
export function* walk(n: LineageNode): Generator<LineageNode> {
  yield n;
  for (const c of n.inputs) yield* walk(c);
}

export { F_SUMMARY };
