// What the record and replay engines share: the channel registry and the interception switches.
import { FIRST_USER_CHANNEL, type Shape } from './trace/format.js';

/**
 * Marks a delivery that Node made right after a callback threw, before draining the microtasks
 * that callback queued (the next due timer or immediate). Without the mark, they drained first.
 */
export const UNDRAINED_CHANNEL = 'sequencer.undrained';

export abstract class EngineBase {
  /** Channel names by id; ids start after the engine channels, as in the trace. */
  protected readonly names: string[] = [];
  private readonly shapes: Shape[] = [];
  private readonly channelsByName = new Map<string, number>();
  private nextChannel = FIRST_USER_CHANNEL;
  /** Nesting of `unobserved` sections: Node's internals calling a patched function, module loading. */
  protected depth = 0;
  /** Suspensions by `suspend()` (preloaded tooling); unlike `depth`, `observed` does not lift them. */
  private suspended = 0;

  channel(name: string, shape: Shape): number {
    const known = this.channelsByName.get(name);
    if (known !== undefined) {
      if (this.shapes[known] !== shape) throw new Error(`channel ${name} is already declared with another shape`);
      return known;
    }
    const id = this.nextChannel++;
    this.channelsByName.set(name, id);
    this.names[id] = name;
    this.shapes[id] = shape;
    this.channelDeclared(id, name, shape);
    return id;
  }

  /** A new channel: the recorder writes its definition. */
  protected channelDeclared(_id: number, _name: string, _shape: Shape): void {}

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
}
