// The timeline of a recording: its events read in one streaming pass (a trace is decoded chunk by
// chunk and never held whole as events), turned into entries by the socket tracker with its
// protocol decoders and by the plain-event summaries, and, for a recording of several processes,
// merged by time.
import { CorruptTraceError } from '../core/trace/codec.js';
import type { TraceEvent, TraceFile } from '../core/trace/reader.js';
import { OrderedEntries, type Entry } from './entry.js';
import { EventSummaries } from './events.js';
import { SocketTracker } from './sockets.js';

export interface TimelineOptions {
  /** Include bookkeeping events (setImmediate, deliveries nobody summarizes): `show --all`. */
  all?: boolean;
  /** Sees every raw event as it is read (for `show --event N`). */
  onEvent?: (ev: TraceEvent) => void;
  /** Only entries that can hold this event matter: single-event lines of other events are skipped. */
  focus?: number;
}

/** One process's entries in order of their first event. Times are ms since that process started. */
export function* processTimeline(trace: TraceFile, options: TimelineOptions = {}): Generator<Entry> {
  const processNumber = trace.header.process;
  const entries = new OrderedEntries();
  const sockets = new SocketTracker(processNumber, entries);
  const summaries = new EventSummaries(processNumber, entries, options.all ?? false, options.focus ?? null);
  const onEvent = options.onEvent;
  let last: TraceEvent | null = null;
  let problem: string | null = null;
  try {
    for (const ev of trace.events()) {
      last = ev;
      onEvent?.(ev);
      try {
        if (!sockets.handle(ev)) summaries.handle(ev);
      } catch (err) {
        // A decoder met bytes it does not understand: say so on a line and go on.
        entries.add({ process: processNumber, event: ev.index, time: ev.time, kind: 'other', summary: `(event ${ev.index} could not be summarized: ${(err as Error).message})` });
      }
      for (const entry of entries.take()) yield entry;
    }
  } catch (err) {
    if (!(err instanceof CorruptTraceError)) throw err;
    problem = `events after ${last ? last.index : 0} cannot be decoded: ${err.message}`;
  }
  sockets.close();
  summaries.close();
  entries.close();
  yield* entries.take();
  const cut = problem ?? (trace.end ? null : trace.truncation);
  if (cut) {
    yield { process: processNumber, event: last ? last.index + 1 : 0, time: last?.time ?? 0, kind: 'process', summary: `the recording ends here (${cut})`, fields: { truncated: cut } };
  }
}

/**
 * Entries of several processes merged by time. `time` becomes ms since the earliest process
 * started, so the processes of one recording share a clock.
 */
export function* mergedTimeline(traces: TraceFile[], options: TimelineOptions = {}): Generator<Entry> {
  if (traces.length === 0) return;
  const base = Math.min(...traces.map((t) => t.header.startTime));
  const streams = traces.map((t) => ({ offset: t.header.startTime - base, it: processTimeline(t, options), head: null as Entry | null, done: false }));
  const advance = (s: (typeof streams)[number]) => {
    const next = s.it.next();
    if (next.done) {
      s.done = true;
      s.head = null;
    } else {
      s.head = next.value;
      s.head.time += s.offset;
    }
  };
  for (const s of streams) advance(s);
  for (;;) {
    let best: (typeof streams)[number] | null = null;
    for (const s of streams) if (!s.done && (!best || s.head!.time < best.head!.time)) best = s;
    if (!best) return;
    const entry = best.head!;
    advance(best);
    yield entry;
  }
}

/** The kinds `--kind` accepts, with the groups they stand for. */
export const KIND_GROUPS: Record<string, string[]> = {
  http: ['http.in', 'http.out'],
  'http.in': ['http.in'],
  'http.out': ['http.out'],
  sql: ['pg', 'mysql'],
  db: ['pg', 'mysql', 'redis'],
  pg: ['pg'],
  postgres: ['pg'],
  postgresql: ['pg'],
  mysql: ['mysql'],
  mariadb: ['mysql'],
  redis: ['redis'],
  net: ['net'],
  fs: ['fs'],
  file: ['fs'],
  time: ['time'],
  clock: ['time'],
  random: ['random'],
  crypto: ['crypto'],
  timer: ['timer'],
  timers: ['timer'],
  env: ['env'],
  process: ['process', 'crash'],
  crash: ['crash'],
  child: ['child'],
  dns: ['dns'],
  stdin: ['stdin'],
  os: ['os'],
  other: ['other'],
  engine: ['engine'],
};
