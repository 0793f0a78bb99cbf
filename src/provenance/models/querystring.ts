// Query strings: node:querystring's parse (Express's default query parser) gives each key's value
// the lineage of its own characters; URI decoding keeps its argument's lineage.
import querystring from 'node:querystring';
import type { Call, ModelHost } from './host.js';
import { register } from './registry.js';

function parsed(host: ModelHost, call: Call, result: unknown): number | null {
  const [text, sepArg, eqArg] = call.args;
  if (typeof text !== 'string' || !result || typeof result !== 'object') return null;
  const label = call.labels[0] ?? 0;
  if (!label) return 0;
  const sep = typeof sepArg === 'string' && sepArg ? sepArg : '&';
  const eq = typeof eqArg === 'string' && eqArg ? eqArg : '=';
  const byKey = new Map<string, number[]>();
  let at = 0;
  for (const pair of text.split(sep)) {
    const split = pair.indexOf(eq);
    const rawKey = split >= 0 ? pair.slice(0, split) : pair;
    let key: string;
    try {
      key = querystring.unescape(rawKey.replace(/\+/g, ' '));
    } catch {
      key = rawKey;
    }
    const from = split >= 0 ? at + split + eq.length : at + pair.length;
    const to = at + pair.length;
    const raw = text.slice(from, to);
    const range = host.rangeLabel(call.site, label, from, to, raw);
    if (range && key) {
      let list = byKey.get(key);
      if (!list) byKey.set(key, (list = []));
      list.push(range);
    }
    at += pair.length + sep.length;
  }
  const site = host.internal('querystring value');
  for (const [key, labels] of byKey) {
    const value = (result as Record<string, unknown>)[key];
    if (Array.isArray(value) && value.length === labels.length) labels.forEach((l, i) => host.setProp(value, String(i), l));
    else if (labels.length === 1) {
      const raw = labels[0]!;
      // decoded text (%20, +) is no longer the same characters: its lineage, not its byte range
      host.setProp(result, key, raw);
      void site;
    }
  }
  return 0;
}

register([querystring.parse, querystring.decode], parsed);

const decoded = (host: ModelHost, call: Call, result: unknown): number | null => {
  const label = call.labels[0] ?? 0;
  if (!label || typeof result !== 'string') return 0;
  if (result === call.args[0]) return label;
  return host.derivedAll(call.site, result, [label], call.fn === decodeURIComponent ? 'decodeURIComponent' : 'decodeURI');
};
register([decodeURIComponent, decodeURI, querystring.unescape], decoded);
