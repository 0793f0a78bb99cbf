// What the timeline is made of: entries (one line each), and the ordering buffer that lets a
// decoder emit an exchange (an HTTP request and its response, a query and its rows) only once it is
// complete while the timeline still comes out in event order.
import type { Decoded } from './protocols/types.js';

/** An event's number and time (ms since its process started). */
export interface EventRef {
  index: number;
  time: number;
}

/** One line of the timeline: something the program did or saw at the boundary. */
export interface Entry {
  process: number;
  /** The event this entry starts at: its number for `retrace show --event N`. */
  event: number;
  /** Milliseconds since the process started (the trace's clock). */
  time: number;
  /** http.in, http.out, pg, mysql, redis, net, fs, time, random, timer, env, process, crash, ... */
  kind: string;
  summary: string;
  /** Small structured facts for `--json` (no bodies). */
  fields?: Record<string, unknown>;
  /** Every event this entry covers, when more than one (the bytes of an HTTP exchange). */
  events?: number[];
  /** The full form, for `--event N`: text for people, and a JSON object. Built on demand. */
  detail?: () => Detail;
  /** The decoder's own record of the exchange (the same object it keeps filling while the connection goes on). */
  decoded?: Decoded;
}

export interface Detail {
  text: string;
  json: Record<string, unknown>;
}

/** A decoder's handle on an entry it has started and will complete later. */
export interface Pending {
  readonly start: number;
  /** Completes the entry; it is emitted when every entry before it is out. */
  finish(entry: Entry): void;
}

interface Slot {
  start: number;
  seq: number;
  entry: Entry | null;
  /** What to show if the buffer must give up waiting (a response that never came, so far). */
  partial: (() => Entry) | null;
  open: boolean;
}

/**
 * Entries come out in order of their start event. An open (pending) entry holds back the ones
 * after it, up to `maxHeld`; past that, the oldest open entry is emitted in its partial form so
 * that a long-lived exchange (a stream, a long poll) never makes the timeline hold everything.
 */
export class OrderedEntries {
  private readonly slots: Slot[] = [];
  private head = 0;
  private seq = 0;
  private readonly out: Entry[] = [];

  constructor(private readonly maxHeld = 20_000) {}

  /** Adds a complete entry. */
  add(entry: Entry): void {
    this.insert({ start: entry.event, seq: this.seq++, entry, partial: null, open: false });
  }

  /** Starts an entry that completes later; `partial` describes it if it must be shown before then. */
  begin(start: number, partial: () => Entry): Pending {
    const slot: Slot = { start, seq: this.seq++, entry: null, partial, open: true };
    this.insert(slot);
    return {
      start,
      finish: (entry: Entry) => {
        if (!slot.open) return; // already shown in partial form
        slot.open = false;
        slot.entry = entry;
        this.release();
      },
    };
  }

  private insert(slot: Slot): void {
    // Nearly always appended at the end; an entry that starts earlier than the last one is placed by
    // a short backward scan.
    let i = this.slots.length;
    while (i > this.head && this.before(slot, this.slots[i - 1]!)) i--;
    this.slots.splice(i, 0, slot);
    this.release();
  }

  private before(a: Slot, b: Slot): boolean {
    return a.start < b.start || (a.start === b.start && a.seq < b.seq);
  }

  private release(): void {
    while (this.head < this.slots.length) {
      const slot = this.slots[this.head]!;
      if (slot.open) {
        if (this.slots.length - this.head <= this.maxHeld) break;
        slot.open = false;
        slot.entry = slot.partial!();
      }
      this.out.push(slot.entry!);
      this.slots[this.head] = undefined as unknown as Slot;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.slots.length) {
      this.slots.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Entries ready to be shown, in order; the caller takes them all. */
  take(): Entry[] {
    if (this.out.length === 0) return EMPTY;
    return this.out.splice(0);
  }

  /** The end of the trace: open entries are shown in their partial form. */
  close(): void {
    for (let i = this.head; i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      if (slot.open) {
        slot.open = false;
        slot.entry = slot.partial!();
      }
    }
    this.release();
  }
}

const EMPTY: Entry[] = [];
