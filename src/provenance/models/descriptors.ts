// Property descriptors: a field made by Object.defineProperty/defineProperties or by the second
// argument of Object.create has the lineage of its descriptor's `value`.
import type { ModelHost } from './host.js';
import { register } from './registry.js';

function valueLabel(host: ModelHost, desc: unknown, descLabel: number): number {
  if (!desc || typeof desc !== 'object' || !('value' in desc)) return 0;
  return host.propLabel(host.internal('descriptor.value'), desc, descLabel, 'value', (desc as { value: unknown }).value);
}

function defineAll(host: ModelHost, target: unknown, descs: unknown, descsLabel: number): void {
  if (!descs || typeof descs !== 'object') return;
  const site = host.internal('descriptor');
  for (const key of Object.keys(descs)) {
    const desc = (descs as Record<string, unknown>)[key];
    const l = valueLabel(host, desc, host.propLabel(site, descs, descsLabel, key, desc));
    if (l) host.setProp(target, key, l);
  }
}

register([Object.defineProperty, Reflect.defineProperty], (host, call, result) => {
  const [target, key, desc] = call.args;
  const l = valueLabel(host, desc, call.labels[2] ?? 0);
  if (l && (typeof key === 'string' || typeof key === 'number' || typeof key === 'symbol')) host.setProp(target, key, l);
  return result === target ? (call.labels[0] ?? 0) : 0;
});

register([Object.defineProperties], (host, call) => {
  defineAll(host, call.args[0], call.args[1], call.labels[1] ?? 0);
  return call.labels[0] ?? 0;
});

register([Object.create], (host, call, result) => {
  defineAll(host, result, call.args[1], call.labels[1] ?? 0);
  return 0;
});
