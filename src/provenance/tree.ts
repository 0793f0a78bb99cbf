// From the lineage graph to the tree `retrace why` prints: copy chains folded, shared subtrees
// expanded within a budget, cycles (possible between summaries) cut.
import { F_COPY, F_IMPRECISE, F_MATCHED, F_SUMMARY, showValue, type Origin } from './arena.js';
import type { ProvenanceRuntime } from './runtime.js';

export interface LineageNode {
  value: string;
  op: string;
  at?: string;
  via?: number;
  imprecise?: true;
  summary?: true;
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
  const onPath = new Set<number>();
  const build = (id: number, depth: number, shown: unknown): LineageNode => {
    budget--;
    let via = 0;
    let at = id;
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
    if (flags & (F_IMPRECISE | F_MATCHED)) node.imprecise = true;
    if (flags & F_SUMMARY) {
      node.summary = true;
      notes.add('summary');
    }
    if (origin) node.origin = { ...origin };
    node.inputs = [];
    if (onPath.has(at)) return node;
    const inputs = arena.inputs(at);
    if (inputs.length && depth >= limits.maxDepth) {
      // too deep to draw (a long loop): list the origins it reaches instead
      notes.add('depth');
      const folded: LineageNode = { value: '…', op: 'deeper operations folded: the origins they reach', inputs: [] };
      for (const o of reachableOrigins(rt, at, 40)) folded.inputs.push(build(o, depth + 1, undefined));
      node.inputs.push(folded);
      return node;
    }
    onPath.add(at);
    for (const input of inputs) {
      if (budget <= 0) {
        notes.add('budget');
        break;
      }
      node.inputs.push(build(input, depth + 1, undefined));
    }
    onPath.delete(at);
    return node;
  };
  if (label === 0) return { value: showValue(shown(value)), op: 'no lineage', inputs: [] };
  return build(label, 0, shown(value));
}

/** Origins reachable from a node (breadth first, each once, at most `max`). */
function reachableOrigins(rt: ProvenanceRuntime, from: number, max: number): number[] {
  const arena = rt.arena;
  const seen = new Uint8Array(arena.size);
  const queue = [from];
  seen[from] = 1;
  const found: number[] = [];
  for (let i = 0; i < queue.length && found.length < max && i < 5_000_000; i++) {
    const id = queue[i]!;
    if (arena.origins.has(id) && id !== from) {
      found.push(id);
      continue;
    }
    for (const x of arena.inputs(id)) {
      if (!seen[x]) {
        seen[x] = 1;
        queue.push(x);
      }
    }
  }
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
