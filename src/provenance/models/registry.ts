// Built-in models, registered by the function they model: the runtime finds the function a call
// went to (a method on its receiver, or the function itself, also through .call/.apply) and asks its
// model first. Each file of this folder models one family of built-ins.
import type { Model } from './host.js';

const byFunction = new Map<unknown, Model>();
/** Models that ask for what the program's callbacks returned during the call (flatMap, replace). */
const collecting = new Set<unknown>();

export function register(fns: unknown[], model: Model, opts: { collectReturns?: boolean } = {}): void {
  for (const fn of fns) {
    if (typeof fn !== 'function') continue;
    byFunction.set(fn, model);
    if (opts.collectReturns) collecting.add(fn);
  }
}

export function modelOf(fn: unknown): Model | undefined {
  return typeof fn === 'function' ? byFunction.get(fn) : undefined;
}

export function collectsReturns(fn: unknown): boolean {
  return collecting.has(fn);
}
