// Promise combinators: race and any resolve with one input (the first to settle, the first to
// fulfil), so their result's lineage is that input's alone, decided when it settles; allSettled
// gives each entry its own input's lineage.
import type { Call, ModelHost } from './host.js';
import { register } from './registry.js';

function inputLabels(host: ModelHost, call: Call, arr: unknown[]): number[] {
  return arr.map((p, i) => (p instanceof Promise ? host.promiseLabel(p) : host.elementLabel(arr, i, call.labels[0] ?? 0)));
}

/**
 * Our reactions are added after the combinator's own on each input, so on any input they run right
 * after it, and before the program's reaction to the combined promise (added later still): the
 * first of ours to run is the winner's.
 */
function winner(host: ModelHost, call: Call, result: unknown, fulfilledOnly: boolean): number | null {
  const arr = call.args[0];
  if (!(result instanceof Promise) || !Array.isArray(arr)) return null;
  const labels = inputLabels(host, call, arr);
  if (!labels.some((l) => l)) return 0;
  const node = host.arena.deferred(call.site, result);
  let decided = false;
  arr.forEach((p, i) => {
    const settle = () => {
      if (decided) return;
      decided = true;
      host.arena.fill(node, labels[i]!);
    };
    // a thenable that is not a native promise would have its then() called once more: not followed
    if (p && (typeof p === 'object' || typeof p === 'function') && typeof (p as { then?: unknown }).then === 'function' && !(p instanceof Promise)) return;
    const settled = p instanceof Promise ? p : Promise.resolve(p);
    settled.then(settle, fulfilledOnly ? () => {} : settle);
  });
  return node;
}

register([Promise.race], (host, call, result) => winner(host, call, result, false));
register([Promise.any], (host, call, result) => winner(host, call, result, true));

register([Promise.allSettled], (host, call, result) => {
  const arr = call.args[0];
  if (!(result instanceof Promise) || !Array.isArray(arr)) return null;
  const labels = inputLabels(host, call, arr);
  if (!labels.some((l) => l)) return 0;
  result.then(
    (entries: unknown) => {
      if (!Array.isArray(entries)) return;
      entries.forEach((e: { status?: string }, i) => {
        if (labels[i] && e && typeof e === 'object') host.setProp(e, e.status === 'fulfilled' ? 'value' : 'reason', labels[i]!);
      });
    },
    () => {},
  );
  return host.arena.node(call.site, 0, result, labels);
});
