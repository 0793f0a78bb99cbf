// The record engine: performs every boundary operation live and writes it to the trace.
// It never changes what the program sees; it observes, copies and passes through.
import type { DeliveryHandler, Engine, Revive } from './engine.js';
import type { Shape } from './trace/format.js';
import { FIRST_USER_CHANNEL } from './trace/format.js';
import type { TraceWriter } from './trace/writer.js';

export class Recorder implements Engine {
  readonly mode = 'record' as const;
  readonly recording = true;
  readonly replaying = false;
  private nextChannel = FIRST_USER_CHANNEL;
  private nextRequest = 1;
  private depth = 0;
  private readonly channelsByName = new Map<string, number>();
  private readonly shapes: Shape[] = [];

  constructor(readonly writer: TraceWriter) {}

  channel(name: string, shape: Shape): number {
    const known = this.channelsByName.get(name);
    if (known !== undefined) {
      if (this.shapes[known] !== shape) throw new Error(`channel ${name} is already declared with another shape`);
      return known;
    }
    const id = this.nextChannel++;
    this.channelsByName.set(name, id);
    this.shapes[id] = shape;
    this.writer.defineChannel(id, name, shape);
    return id;
  }

  /** Suspensions by `suspend()` (preloaded tooling); unlike `depth`, `observed` does not lift them. */
  private suspended = 0;

  get passthrough(): boolean {
    return this.depth > 0 || this.suspended > 0;
  }

  unobserved<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  suspend(): () => void {
    this.suspended++;
    let resumed = false;
    return () => {
      if (resumed) return;
      resumed = true;
      this.suspended--;
    };
  }

  observed<T>(fn: () => T): T {
    const saved = this.depth;
    this.depth = 0;
    try {
      return fn();
    } finally {
      this.depth = saved;
    }
  }

  float(channel: number, live: () => number): number {
    const v = live();
    if (this.passthrough) return v;
    this.writer.writeFloatEvent(channel, v);
    return v;
  }

  value<T>(channel: number, live: () => T, _revive?: Revive<T>): T {
    const v = this.unobserved(live);
    if (this.passthrough) return v;
    this.writer.writeValueEvent(channel, v);
    return v;
  }

  call<T>(channel: number, args: unknown, live: () => T, _revive?: Revive<T>): T {
    let result: T;
    this.depth++;
    try {
      result = live();
    } catch (err) {
      this.depth--;
      this.writer.writeCallEvent(channel, args, true, err);
      throw err;
    }
    this.depth--;
    this.writer.writeCallEvent(channel, args, false, result);
    return result;
  }

  request(channel: number, args: unknown): number {
    const id = this.nextRequest++;
    this.writer.writeRequestEvent(channel, id, args);
    return id;
  }

  deliver(reqId: number, payload: unknown): void {
    this.writer.writeDeliverEvent(reqId, payload);
  }

  expect(_reqId: number, _handler: DeliveryHandler): void {}
  forget(_reqId: number): void {}
  deliverIfNext(_reqId: number): boolean {
    return false;
  }
  onUnsolicited(_channel: number, _handler: DeliveryHandler): void {}

  realWork(): () => void {
    return () => {};
  }

  recordedPath(path: string): string {
    return path;
  }

  diverge(what: string): never {
    throw new Error(`retrace internal error: divergence while recording: ${what}`);
  }
}
