// The lineage as text: one line per node, indented as a tree, copy chains folded.
import type { LineageNode } from './tree.js';

/**
 * What a provenance replay traced: where the hit ran (its HTTP request, or its connection when it
 * ran in connection-level code) plus the program's own code outside every connection; or the
 * whole process.
 */
export interface WhyScope {
  traced: 'narrowed' | 'process';
  /** Why the whole process: asked (--scope all), no connections, or widened because the lineage left the narrowed scope. */
  reason?: 'asked' | 'no connections' | 'widened';
  /** Where the hit ran (numbered in the order connections and requests came; null: outside every connection). */
  place?: { connection: number; request: number | null } | null;
  /** Connections accepted and HTTP requests received by the hit. */
  connections?: number;
  requests?: number;
}

export function scopeLine(s: WhyScope): string {
  const p = s.place;
  const where = p == null ? "the program's own code outside connections" : p.request !== null ? `request #${p.request} (on connection #${p.connection})` : `connection #${p.connection}`;
  if (s.traced === 'narrowed') {
    const count = p == null ? s.connections ?? 0 : p.request !== null ? (s.requests ?? 1) - 1 : (s.connections ?? 1) - 1;
    const what = p != null && p.request !== null ? 'request' : 'connection';
    const others = count === 0 ? `no other ${what} ran` : `${p == null ? 'the' : 'the other'} ${count === 1 ? what : `${count} ${what}s`} ran without making lineage`;
    return `traced: ${where}${p == null ? '' : " and the program's own code"}; ${others}`;
  }
  if (s.reason === 'widened') return `traced: the whole process (widened from ${where}: the value's lineage reaches values computed elsewhere)`;
  return `traced: the whole process${s.reason === 'no connections' ? ' (no connections to narrow to)' : ''}`;
}

export interface WhyResult {
  at: string;
  expr: string;
  hit: number;
  hits: number;
  value: string;
  complete: boolean;
  notes: string[];
  /** Absent in answers of versions before scoping. */
  scope?: WhyScope;
  lineage: LineageNode | null;
}

export function nodeLine(n: LineageNode): string {
  if (n.origin) {
    const words = n.origin.detail ?? n.origin.kind;
    return `${n.value}  ← ${words}${n.imprecise ? '  (matched by content)' : ''}`;
  }
  const parts = [`${n.value}  ${n.op}`];
  if (n.at) parts.push(`at ${n.at}`);
  if (n.via) parts.push(`(via ${n.via} assignment${n.via === 1 ? '' : 's'})`);
  if (n.imprecise) parts.push('[imprecise: not modelled, linked to all inputs]');
  if (n.control) parts.push('[condition: decided which code ran]');
  if (n.summary) parts.push('[summarized]');
  return parts.join(' ');
}

export function formatText(r: WhyResult): string {
  const out: string[] = [];
  out.push(`${r.expr} = ${r.value} at ${r.at} (hit ${r.hit} of ${r.hits})`);
  if (r.scope) out.push(scopeLine(r.scope));
  const draw = (n: LineageNode, prefix: string, last: boolean, root: boolean) => {
    out.push(root ? nodeLine(n) : `${prefix}${last ? '└─ ' : '├─ '}${nodeLine(n)}`);
    const childPrefix = root ? '' : prefix + (last ? '   ' : '│  ');
    n.inputs.forEach((c, i) => draw(c, childPrefix, i === n.inputs.length - 1, false));
  };
  if (r.lineage) draw(r.lineage, '', true, true);
  const origins = new Map<string, number>();
  const visit = (n: LineageNode) => {
    if (n.origin && n.origin.kind !== 'literal') origins.set(n.origin.detail ?? n.origin.kind, (origins.get(n.origin.detail ?? n.origin.kind) ?? 0) + 1);
    n.inputs.forEach(visit);
  };
  if (r.lineage) visit(r.lineage);
  if (origins.size) {
    out.push('', 'recorded inputs it came from:');
    for (const k of origins.keys()) out.push(`  ${k}`);
  }
  if (!r.complete || r.notes.length) {
    out.push('');
    if (!r.complete) out.push('incomplete answer:');
    for (const n of r.notes) out.push(`  note: ${n}`);
  }
  return out.join('\n') + '\n';
}
