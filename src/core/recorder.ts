// The record engine: performs every boundary operation live and writes it to the trace.
// It never changes what the program sees; it observes, copies and passes through.
import type { DeliveryHandler, Engine, Revive } from './engine.js';
import { EngineBase, UNDRAINED_CHANNEL } from './engine-base.js';
import { guardForeignCode } from './trace/codec.js';
import { Shape, type ModuleHash } from './trace/format.js';
import type { TraceEvent, TraceFile } from './trace/reader.js';
import { real } from './originals.js';
import type { TraceWriter } from './trace/writer.js';

/** A value event after each event that could not be encoded, saying why (`retrace info` lists them). */
export const UNENCODABLE_CHANNEL = 'recording.unencodable';
const MAX_WARNINGS = 10;

export class Recorder extends EngineBase implements Engine {
  readonly mode = 'record' as const;
  readonly recording = true;
  readonly replaying = false;
  private nextRequest = 1;
  readonly trace: TraceFile | null = null;

  constructor(readonly writer: TraceWriter) {
    super();
    this.undrainedChannel = this.channel(UNDRAINED_CHANNEL, Shape.Value);
    // The program's code that encoding runs (an error's prepareStackTrace reading source maps)
    // crosses the boundary unrecorded, as Node's own use of a patched function does: a crossing
    // recorded there would land inside the event being written.
    guardForeignCode((fn) => this.unobserved(fn));
    writer.onUnencodable = (description) => {
      if (writer.unencodableCount <= MAX_WARNINGS) {
        real.writeSync(2, `retrace: warning: ${description}; the recording holds this in its place, and its replay will stop there${writer.unencodableCount === MAX_WARNINGS ? ' (further such warnings are left out)' : ''}\n`);
      }
      this.problemChannel ??= this.channel(UNENCODABLE_CHANNEL, Shape.Value);
      writer.writeValueEvent(this.problemChannel, description);
    };
  }

  private problemChannel: number | undefined;

  protected override channelDeclared(id: number, name: string, shape: Shape): void {
    this.writer.defineChannel(id, name, shape);
  }

  peek(): TraceEvent | null {
    return null;
  }

  describeEvent(event: TraceEvent): string {
    return `event ${event.index}`;
  }

  noteModule(hash: ModuleHash): void {
    this.writer.addModule(hash);
  }

  checkEnd(_code: number): void {}

  finish(): void {}
  loopEmptied(): boolean {
    return false;
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
    if (this.afterThrow) {
      this.afterThrow = false;
      if (!this.drainedSinceThrow) this.writer.writeValueEvent(this.undrainedChannel, null);
    }
    this.writer.writeDeliverEvent(reqId, payload);
  }

  private afterThrow = false;
  private drainedSinceThrow = false;
  private readonly undrainedChannel: number;

  noteHandledThrow(): void {
    this.afterThrow = true;
    this.drainedSinceThrow = false;
    // Runs at the next drain of the microtask queue, after what the failed callback queued.
    queueMicrotask(() => {
      this.drainedSinceThrow = true;
    });
  }

  expect(_reqId: number, _handler: DeliveryHandler, _persistent?: boolean): void {}
  forget(_reqId: number): void {}
  deliverIfNext(_reqId: number): boolean {
    return false;
  }
  onUnsolicited(_channel: number, _handler: DeliveryHandler, _afterLoopEmpties?: (value: unknown) => boolean): void {}

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
