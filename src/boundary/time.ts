// time: Date (no-argument construction, Date() as a function, Date.now), performance.now,
// performance.timeOrigin, process.hrtime and process.hrtime.bigint.
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';
import { builtin, disguise } from './wrap.js';

const perfHooksPerformance = builtin<typeof import('node:perf_hooks')>('node:perf_hooks').performance;

export const timeBoundary: Boundary = {
  name: 'time',
  install(engine: Engine) {
    installDate(engine);
    installPerformance(engine);
    installHrtime(engine);
    installEventLoopMetrics(engine);
  },
};

const HISTOGRAM_READINGS = ['min', 'max', 'mean', 'stddev', 'count', 'exceeds', 'percentiles', 'minBigInt', 'maxBigInt', 'countBigInt', 'exceedsBigInt', 'percentilesBigInt'];
const HISTOGRAM_QUERIES = ['percentile', 'percentileBigInt'];

/**
 * Event-loop metrics (@fastify/under-pressure, health checks): `performance.eventLoopUtilization()`
 * and what histograms report (`monitorEventLoopDelay()`, `createHistogram()`: min, max, mean,
 * stddev, count, exceeds, percentiles, percentile(p), their BigInt forms) are readings of this run's
 * event loop. Each is a recorded call; replay returns the recorded reading. The histograms
 * themselves run live (enable, disable, reset, record), their values unused.
 */
function installEventLoopMetrics(engine: Engine): void {
  const perfHooks = builtin<typeof import('node:perf_hooks')>('node:perf_hooks');
  const eluCh = engine.channel('time.performance.eventLoopUtilization', Shape.Call);
  for (const perf of new Set([globalThis.performance, perfHooksPerformance])) {
    const realElu = perf.eventLoopUtilization;
    if (typeof realElu !== 'function') continue;
    Object.defineProperty(perf, 'eventLoopUtilization', {
      value: disguise(function eventLoopUtilization(this: unknown, ...args: unknown[]) {
        return engine.call(eluCh, args, () => realElu.apply(perf, args as never));
      }, realElu),
      writable: true,
      configurable: true,
      enumerable: true,
    });
  }
  if (typeof perfHooks.monitorEventLoopDelay !== 'function') return;
  const sample = perfHooks.monitorEventLoopDelay();
  // The readings are getters of the base Histogram class, shared by both kinds of histogram.
  let proto: object | null = Object.getPrototypeOf(sample) as object;
  while (proto && !Object.getOwnPropertyDescriptor(proto, 'min')) proto = Object.getPrototypeOf(proto) as object | null;
  if (!proto) return;
  const readCh = engine.channel('time.histogram', Shape.Call);
  for (const name of HISTOGRAM_READINGS) {
    const desc = Object.getOwnPropertyDescriptor(proto, name);
    if (!desc?.get) continue;
    const get = desc.get;
    Object.defineProperty(proto, name, {
      ...desc,
      get: disguise(function (this: unknown) {
        // Node 22 answers `percentiles` with its internal SafeMap, which is no `instanceof Map` and
        // would be recorded as a plain object: the program gets a plain Map in both modes.
        const read = name.startsWith('percentiles') ? () => new Map(get.call(this) as Iterable<[unknown, unknown]>) : () => get.call(this);
        return engine.call(readCh, [name], read);
      }, get),
    });
  }
  for (const name of HISTOGRAM_QUERIES) {
    const desc = Object.getOwnPropertyDescriptor(proto, name);
    if (typeof desc?.value !== 'function') continue;
    const method = desc.value as (...a: unknown[]) => unknown;
    Object.defineProperty(proto, name, {
      ...desc,
      value: disguise(function (this: unknown, ...args: unknown[]) {
        return engine.call(readCh, [name, ...args], () => method.apply(this, args));
      }, method),
    });
  }
}

function installDate(engine: Engine): void {
  globalThis.Date = patchedDate(engine, Date);
}

/**
 * A Date constructor of `OriginalDate`'s realm whose clock readings cross the boundary. Also used
 * for the realms the program creates (vm contexts: jest runs test code in one).
 */
export function patchedDate(engine: Engine, OriginalDate: DateConstructor): DateConstructor {
  const realNow = OriginalDate.now;
  const ch = engine.channel('time.Date.now', Shape.Value);
  const now = () => engine.float(ch, realNow);

  // A function, not a class: `Date()` without `new` must keep returning a string.
  const PatchedDate = function Date(this: unknown, ...args: unknown[]) {
    if (!new.target) return new OriginalDate(now()).toString();
    return Reflect.construct(OriginalDate, args.length === 0 ? [now()] : args, new.target);
  } as unknown as DateConstructor;
  Object.setPrototypeOf(PatchedDate, OriginalDate); // Date.UTC, Date.parse
  Object.defineProperty(PatchedDate, 'prototype', { value: OriginalDate.prototype, writable: false });
  Object.defineProperty(PatchedDate, 'length', { value: 7 });
  PatchedDate.now = disguise(function now_() {
    return now();
  }, realNow);
  Object.defineProperty(OriginalDate.prototype, 'constructor', { value: PatchedDate, writable: true, configurable: true, enumerable: false });
  return PatchedDate;
}

function installPerformance(engine: Engine): void {
  const nowCh = engine.channel('time.performance.now', Shape.Value);
  const originCh = engine.channel('time.performance.timeOrigin', Shape.Value);
  const targets = new Set([globalThis.performance, perfHooksPerformance]);
  for (const perf of targets) {
    const realNow = perf.now.bind(perf);
    Object.defineProperty(perf, 'now', {
      value: disguise(function now() {
        return engine.float(nowCh, realNow);
      }, perf.now),
      writable: true,
      configurable: true,
      enumerable: true,
    });
  }
  const origin = engine.float(originCh, () => perfHooksPerformance.timeOrigin);
  for (const perf of targets) {
    Object.defineProperty(perf, 'timeOrigin', { get: () => origin, configurable: true, enumerable: true });
  }
}

function installHrtime(engine: Engine): void {
  const realHrtime = process.hrtime;
  const realBigint = process.hrtime.bigint;
  const ch = engine.channel('time.process.hrtime', Shape.Value);
  const bigCh = engine.channel('time.process.hrtime.bigint', Shape.Value);

  const hrtime = disguise(function hrtime(previous?: [number, number]) {
    // Record the absolute reading; the difference from `previous` is the program's own arithmetic.
    const [s, ns] = engine.value(ch, () => realHrtime()) as [number, number];
    if (!previous) return [s, ns];
    let ds = s - previous[0];
    let dns = ns - previous[1];
    if (dns < 0) {
      ds -= 1;
      dns += 1e9;
    }
    return [ds, dns];
  }, realHrtime as never) as unknown as typeof process.hrtime;
  hrtime.bigint = disguise(function bigint() {
    return engine.value(bigCh, () => realBigint()) as bigint;
  }, realBigint);
  process.hrtime = hrtime;
}
