// What a built-in model may use of the shadow runtime (src/provenance/runtime.ts): the lineage
// graph, the shadow fields of objects, and the string-range machinery. A model relates one call's
// result to its inputs; it is registered by the function it models (models/registry.ts).
import type { Arena } from '../arena.js';

/** One call from instrumented code to a function that is not instrumented. */
export interface Call {
  site: number;
  /** The function called (for a method call, the method found on the receiver). */
  fn: unknown;
  /** The receiver of a method call (`this`), undefined for a plain call. */
  recv: unknown;
  recvLabel: number;
  args: unknown[];
  labels: number[];
  /** Labels and values the program's callbacks returned during the call, in order (when the model asked for them). */
  returns: number[] | null;
  returnValues: unknown[] | null;
}

export interface ModelHost {
  readonly arena: Arena;
  /** The site of an operation the runtime makes itself ("input", "[]"). */
  internal(op: string): number;
  /** The label of o[k] (shadow field, JSON member, SQL column, inherited field...). */
  propLabel(site: number, o: unknown, lo: number, k: unknown, v: unknown): number;
  elementLabel(arr: unknown, i: number, base: number): number;
  setProp(o: unknown, k: PropertyKey, label: number): void;
  /** The label of characters [start, end) of a string (or bytes of a buffer) labelled `label`. */
  rangeLabel(site: number, label: number, start: number, end: number, v: unknown): number;
  /** Records that the text labelled `out` is made of parts of these lengths and labels, in order. */
  setParts(out: number, lengths: number[], labels: number[]): void;
  /** Records that ranges of `out` map to ranges of `src` through `map` (an encoding). */
  setRangeMap(out: number, src: number, map: (start: number, end: number) => [number, number]): void;
  /** A derived node named `op` (0 when no input has lineage). */
  derivedAll(site: number, v: unknown, labels: number[], op: string): number;
  /** The label a settled promise made by instrumented code or a model resolved with. */
  promiseLabel(p: unknown): number;
  /** A promise made by `new Promise` in instrumented code: its resolve function's deferred node. */
  resolverNode(fn: unknown): number | undefined;
  /** Labels of a Map's or Set's entries, by key (a Set's by value). */
  entriesOf(c: object): Map<unknown, number> | undefined;
  /** An instrumented callback will be called later with arguments of these labels. */
  expectCallback(cb: unknown, labels: number[], deferred: number): void;
  readonly notes: Set<string>;
}

/** A model: the label of the call's result (0 for none), or null when it does not apply and the runtime's own rules go on. */
export type Model = (host: ModelHost, call: Call, result: unknown) => number | null;
