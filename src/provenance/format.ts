// The lineage as text: one line per node, indented as a tree, copy chains folded.
import type { LineageNode } from './tree.js';

export interface WhyResult {
  at: string;
  expr: string;
  hit: number;
  hits: number;
  value: string;
  complete: boolean;
  notes: string[];
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
  if (n.summary) parts.push('[summarized]');
  return parts.join(' ');
}

export function formatText(r: WhyResult): string {
  const out: string[] = [];
  out.push(`${r.expr} = ${r.value} at ${r.at} (hit ${r.hit} of ${r.hits})`);
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
