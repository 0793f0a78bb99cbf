// Array index routing: each element of the result has the lineage of the element (or the callback
// return) it came from, by position, not by value.
import type { Call, ModelHost } from './host.js';
import { register } from './registry.js';

register([Array.prototype.with], (host, call, result) => {
  const arr = call.recv;
  if (!Array.isArray(arr) || !Array.isArray(result)) return null;
  let at = Number(call.args[0]);
  if (at < 0) at += arr.length;
  for (let i = 0; i < result.length; i++) host.setProp(result, String(i), i === at ? (call.labels[1] ?? 0) : host.elementLabel(arr, i, call.recvLabel));
  return 0;
});

/** flatMap: a returned array spreads its elements (each with its own lineage), anything else is one element. */
register(
  [Array.prototype.flatMap],
  (host, call, result) => {
    if (!Array.isArray(result) || !call.returns || !call.returnValues || call.returns.length !== call.returnValues.length) return null;
    let at = 0;
    call.returnValues.forEach((r, i) => {
      const l = call.returns![i]!;
      if (Array.isArray(r)) r.forEach((_, j) => host.setProp(result, String(at++), host.elementLabel(r, j, l)));
      else host.setProp(result, String(at++), l);
    });
    return at === result.length ? 0 : null;
  },
  { collectReturns: true },
);

/** concat (also through Array.prototype.concat.call): the receiver's elements, then each argument's (spread when an array). */
register([Array.prototype.concat], (host, call, result) => {
  if (!Array.isArray(result)) return null;
  let at = 0;
  const add = (src: unknown, label: number) => {
    if (Array.isArray(src)) src.forEach((_, j) => host.setProp(result, String(at++), host.elementLabel(src, j, label)));
    else host.setProp(result, String(at++), label);
  };
  add(call.recv, call.recvLabel);
  call.args.forEach((a, i) => add(a, call.labels[i] ?? 0));
  return at === result.length ? 0 : null;
});

/** Array.from: with a map function, each element is what it returned; else what the iterable yielded, in order. */
register(
  [Array.from],
  (host, call, result) => {
    if (!Array.isArray(result)) return null;
    const [src, mapFn] = call.args;
    if (typeof mapFn === 'function') {
      if (!call.returns || call.returns.length !== result.length) return null;
      call.returns.forEach((l, i) => host.setProp(result, String(i), l));
      return 0;
    }
    const labels = iterated(host, call, src, result);
    labels.forEach((l, i) => host.setProp(result, String(i), l));
    return 0;
  },
  { collectReturns: true },
);

function iterated(host: ModelHost, call: Call, src: unknown, values: unknown[]): number[] {
  const label = call.labels[0] ?? 0;
  if (Array.isArray(src)) return values.map((_, i) => host.elementLabel(src, i, label));
  if (src instanceof Map) {
    const entries = host.entriesOf(src);
    // each element is a fresh [key, value] pair: its value has the entry's lineage
    values.forEach((pair) => {
      if (Array.isArray(pair)) {
        const l = entries?.get(pair[0]) ?? 0;
        if (l) host.setProp(pair, '1', l);
      }
    });
    return values.map(() => 0);
  }
  if (src instanceof Set) {
    const entries = host.entriesOf(src);
    return values.map((x) => entries?.get(x) ?? 0);
  }
  if (typeof src === 'string') {
    let at = 0;
    return values.map((ch) => {
      const s = String(ch);
      const l = host.rangeLabel(call.site, label, at, at + s.length, s);
      at += s.length;
      return l;
    });
  }
  return values.map(() => label);
}
