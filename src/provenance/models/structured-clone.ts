// structuredClone: a deep copy, so each field of the copy has the lineage of the field it copies.
import type { ModelHost } from './host.js';
import { register } from './registry.js';

function copyLabels(host: ModelHost, from: unknown, to: unknown, label: number, seen: Map<object, unknown>, depth: number): void {
  if (!from || typeof from !== 'object' || !to || typeof to !== 'object' || depth > 64 || seen.has(from)) return;
  seen.set(from, to);
  if (from instanceof Map || from instanceof Set || ArrayBuffer.isView(from)) return;
  const site = host.internal('structuredClone');
  for (const key of Object.keys(from)) {
    const value = (from as Record<string, unknown>)[key];
    const l = host.propLabel(site, from, label, key, value);
    if (l) host.setProp(to, key, l);
    copyLabels(host, value, (to as Record<string, unknown>)[key], l, seen, depth + 1);
  }
}

if (typeof globalThis.structuredClone === 'function') {
  register([globalThis.structuredClone], (host, call, result) => {
    const label = call.labels[0] ?? 0;
    copyLabels(host, call.args[0], result, label, new Map(), 0);
    if (result && typeof result === 'object') return label ? host.arena.node1(call.site, 0, result, label) : 0;
    return label;
  });
}
