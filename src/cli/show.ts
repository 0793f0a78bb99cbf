// retrace show: the timeline of a recording's external events, one line each, or one event in full.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { TraceError, TraceFile, type TraceEvent } from '../core/trace/reader.js';
import type { Detail, Entry } from '../inspect/entry.js';
import { jsonSafe } from '../inspect/events.js';
import { containsPlaceholder } from '../redaction/secrets.js';
import { fullValue } from '../inspect/render.js';
import { KIND_GROUPS, mergedTimeline, processTimeline } from '../inspect/timeline.js';
import { listTraces, rootProcess, UsageError } from './recording.js';
import { testFilesByProcess } from './tests.js';

export interface ShowOptions {
  location: string;
  kinds: string[];
  grep: string | null;
  process: number | null;
  from: number | null;
  to: number | null;
  limit: number | null;
  json: boolean;
  event: number | null;
  all: boolean;
  pager: boolean;
}

function openTraces(o: ShowOptions): TraceFile[] {
  return openTimelineTraces(o.location, o.process, o.event !== null);
}

/**
 * The traces `show` reads: one process (`process`), the root process (for one event), or every
 * readable one (an unreadable trace among several is skipped with a line on stderr).
 */
export function openTimelineTraces(location: string, processNumber: number | null, rootOnly = false): TraceFile[] {
  const refs = listTraces(location);
  if (processNumber !== null) {
    const ref = refs.find((r) => r.process === processNumber);
    if (!ref) throw new UsageError(`the recording has no process ${processNumber} (it has ${refs.map((r) => r.process).join(', ')})`);
    return [TraceFile.open(ref.file)];
  }
  if (rootOnly) return [TraceFile.open(rootProcess(refs).file)];
  const traces: TraceFile[] = [];
  const failed: TraceError[] = [];
  for (const ref of refs) {
    try {
      traces.push(TraceFile.open(ref.file));
    } catch (err) {
      if (!(err instanceof TraceError) || refs.length === 1) throw err;
      failed.push(err);
    }
  }
  // Not one trace can be read (an encrypted recording without its key): that is the error, once.
  if (traces.length === 0 && failed.length > 0) throw failed[0]!;
  for (const [i, err] of failed.entries()) process.stderr.write(`retrace: skipping ${path.basename(refs.find((r) => err.message.includes(r.file))?.file ?? `trace ${i}`)}: ${err.message}\n`);
  return traces;
}

/** Where lines go: a pager when stdout is a terminal, else stdout, with backpressure. */
class Output {
  private pager: ChildProcess | null = null;
  private closed = false;
  private buffer = '';

  constructor(usePager: boolean) {
    if (usePager && process.stdout.isTTY) {
      const command = process.env.PAGER || 'less';
      const env = { ...process.env };
      env.LESS ??= 'FRX'; // quit if one screen, keep colours, leave the text on screen
      try {
        const child = spawn(command, { shell: true, stdio: ['pipe', 'inherit', 'inherit'], env });
        child.stdin!.on('error', () => {
          this.closed = true;
        });
        child.on('error', () => {
          this.closed = true;
        });
        this.pager = child;
      } catch {
        this.pager = null;
      }
    }
    process.stdout.on('error', () => {
      this.closed = true; // the reader went away (head, a closed pipe): stop
    });
  }

  get done(): boolean {
    return this.closed;
  }

  async line(text: string): Promise<void> {
    this.buffer += `${text}\n`;
    if (this.buffer.length >= 32 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.buffer || this.closed) return;
    const stream = this.pager ? this.pager.stdin! : process.stdout;
    const chunk = this.buffer;
    this.buffer = '';
    if (!stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('close', done);
          stream.off('error', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('close', done);
        stream.on('error', done);
      });
    }
  }

  async end(): Promise<void> {
    await this.flush();
    if (this.pager) {
      const pager = this.pager;
      pager.stdin!.end();
      await new Promise<void>((resolve) => pager.on('close', () => resolve()));
    }
  }
}

/** How `show` explains placeholders (redaction/secrets.ts). */
const REDACTED_LEGEND = 'a value shown as redacted<N>*** (or stars) stands for a secret the recording does not hold; the same N, the same secret';

function formatTime(ms: number): string {
  return `+${ms.toFixed(3)}ms`.padStart(13);
}

const CONTROL = /[\x00-\x1f\x7f]/;

export function formatLine(e: Entry): string {
  // One line per entry, whatever the recorded text holds.
  const summary = CONTROL.test(e.summary) ? e.summary.replace(/\r?\n/g, '⏎').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' ') : e.summary;
  return `${formatTime(e.time)}  p${e.process}  ${`#${e.event}`.padEnd(7)} ${e.kind.padEnd(8)}  ${summary}`;
}

export function entryJson(e: Entry): Record<string, unknown> {
  return { process: e.process, event: e.event, timeMs: Math.round(e.time * 1000) / 1000, kind: e.kind, summary: e.summary, ...(e.fields ? { fields: jsonSafe(e.fields) } : {}) };
}

/** What `show` keeps of the timeline: its filters. */
export interface TimelineFilter {
  kinds: string[];
  grep: string | null;
  from: number | null;
  to: number | null;
  all: boolean;
}

/** The entries of the timeline that pass the filters, in order (all processes merged by time). */
export function* filteredTimeline(traces: TraceFile[], f: TimelineFilter): Generator<Entry> {
  const kinds = f.kinds.length > 0 ? new Set(f.kinds.flatMap((k) => KIND_GROUPS[k]!)) : null;
  const grep = f.grep?.toLowerCase() ?? null;
  for (const entry of mergedTimeline(traces, { all: f.all })) {
    if (f.to !== null && entry.time > f.to) return;
    if (f.from !== null && entry.time < f.from) continue;
    if (kinds && !kinds.has(entry.kind)) continue;
    if (grep && !entry.summary.toLowerCase().includes(grep) && !entry.kind.includes(grep)) continue;
    yield entry;
  }
}

/** The heading of one process in the timeline: its command, pid, start, duration and end. */
export function processHeading(t: TraceFile, testFiles?: string[]): string[] {
  const h = t.header;
  const end = t.end ? (t.end.signal ? `killed by ${t.end.signal}` : `exit status ${t.end.exitCode}`) : 'truncated';
  const ran = t.end ? `, ran ${t.end.endTime - h.startTime} ms` : '';
  const lines = [`# p${h.process}: ${[path.basename(h.argv[0] ?? 'node'), ...h.execArgv, ...h.argv.slice(1)].join(' ')} (pid ${h.pid}, started ${new Date(h.startTime).toISOString()}${ran}, ${end})${testFiles ? ` ran ${testFiles.join(', ')}` : ''}`];
  if (!t.hasClock) lines.push(`# p${h.process} was recorded by an older retrace-node without clock records: times read +0.000ms`);
  if (h.redaction === null) lines.push(`# p${h.process} was recorded with --no-redact: secrets are stored as they were`);
  else if (h.redaction) lines.push(`# p${h.process}: secrets redacted at record time; ${REDACTED_LEGEND}`);
  return lines;
}

export async function run(o: ShowOptions): Promise<number> {
  for (const k of o.kinds) {
    if (!KIND_GROUPS[k]) throw new UsageError(`unknown kind "${k}" for --kind; kinds: ${Object.keys(KIND_GROUPS).join(', ')}`);
  }
  const traces = openTraces(o);
  if (o.event !== null) return showEvent(traces[0]!, o);

  const out = new Output(o.pager && !o.json);
  if (!o.json && traces.length > 0) {
    let tests = new Map<number, string[]>();
    try {
      tests = testFilesByProcess(o.location);
    } catch {
      // a single trace file or an unreadable folder: no test attribution
    }
    for (const t of traces) for (const line of processHeading(t, tests.get(t.header.process))) await out.line(line);
  }
  let shown = 0;
  for (const entry of filteredTimeline(traces, o)) {
    if (out.done) break;
    await out.line(o.json ? JSON.stringify(entryJson(entry)) : formatLine(entry));
    if (o.limit !== null && ++shown >= o.limit) break;
  }
  await out.end();
  return 0;
}

/** `--event N`: the entry that holds event N, in full; or the raw event when no entry does. */
async function showEvent(trace: TraceFile, o: ShowOptions): Promise<number> {
  const found = eventInFull(trace, o.event!);
  process.stdout.write(o.json ? `${JSON.stringify(eventJson(found))}\n` : `${eventText(found)}\n`);
  return 0;
}

/** One event of a process, with the timeline entry that holds it (if any) and that entry's detail. */
export interface EventInFull {
  process: number;
  event: number;
  raw: TraceEvent;
  entry: Entry | null;
  detail: Detail | null;
  rawText: string;
  /** The recording was redacted and this event's text holds placeholders. */
  mentionsRedacted: boolean;
}

/** Finds event `n` of `trace` and the entry it belongs to; a UsageError when it is not in the recording. */
export function eventInFull(trace: TraceFile, n: number): EventInFull {
  let raw: TraceEvent | null = null;
  let count = 0;
  const requests = new Map<number, { channel: string; index: number }>();
  let found: Entry | null = null;
  for (const entry of processTimeline(trace, {
    all: true,
    focus: n,
    onEvent: (ev) => {
      count = ev.index + 1;
      if (ev.kind === 'request' && ev.index <= n) requests.set(ev.reqId, { channel: ev.channel.name, index: ev.index });
      if (ev.index === n) raw = ev;
    },
  })) {
    if (entry.event > n) break;
    if (entry.event === n || entry.events?.includes(n)) {
      // A summary of bookkeeping (--all) loses to a real entry holding the same event.
      if (!found || (found.kind === 'engine' && entry.kind !== 'engine') || (!found.detail && entry.detail)) found = entry;
      if (found.detail && found.kind !== 'engine') break;
    }
  }
  if (!raw) {
    const total = trace.end ? `${trace.end.events} events` : `${count} readable events`;
    throw new UsageError(`event ${n} is not in this recording (process ${trace.header.process} has ${total}, numbered from 0)`);
  }
  const ev = raw as TraceEvent;
  const entry = found as Entry | null;
  const detail = entry?.detail?.() ?? null;
  const rawText = rawEventText(ev, requests);
  const mentionsRedacted = !!trace.header.redaction && (containsPlaceholder(rawText) || (!!detail && containsPlaceholder(detail.text)));
  return { process: trace.header.process, event: n, raw: ev, entry, detail, rawText, mentionsRedacted };
}

/** `show --event N --json`: the entry's fields, the decoded exchange and the raw event. */
export function eventJson(e: EventInFull): Record<string, unknown> {
  const { entry, detail, raw: ev } = e;
  return {
    ...(entry ? entryJson(entry) : { process: e.process, event: e.event, timeMs: ev.time, kind: null, summary: null }),
    ...(entry?.events ? { events: entry.events } : {}),
    detail: detail ? jsonSafe(detail.json) : null,
    raw: rawEventJson(ev),
    ...(e.mentionsRedacted ? { redacted: true } : {}),
  };
}

/** `show --event N`: the entry's line, then its detail (or the raw event). */
export function eventText(e: EventInFull): string {
  const { entry, detail, rawText, event: n, raw: ev } = e;
  const lines: string[] = [];
  if (entry) {
    lines.push(formatLine(entry));
    if (entry.event !== n) lines.push(`(event ${n} is part of this ${entry.kind} entry, which starts at event ${entry.event})`);
    lines.push('');
    lines.push(detail ? detail.text : rawText);
    if (detail && entry.event !== n) lines.push('', `event ${n} itself:`, rawText);
  } else {
    lines.push(`event ${n} (p${e.process}, +${ev.time.toFixed(3)}ms): not summarized on the timeline`, '', rawText);
  }
  if (e.mentionsRedacted) lines.push('', `(redacted: ${REDACTED_LEGEND})`);
  return lines.join('\n');
}

function rawEventText(ev: TraceEvent, requests: Map<number, { channel: string; index: number }>): string {
  switch (ev.kind) {
    case 'value':
      return `${ev.channel.name} (a reading), value:\n${fullValue(ev.value)}`;
    case 'call':
      return `${ev.channel.name} (a call)\narguments:\n${fullValue(ev.args)}\n${ev.threw ? 'threw' : 'returned'}:\n${fullValue(ev.result)}`;
    case 'request':
      return `${ev.channel.name} (request ${ev.reqId})\narguments:\n${fullValue(ev.args)}`;
    case 'deliver': {
      const req = requests.get(ev.reqId);
      return `delivery to request ${ev.reqId}${req ? ` (${req.channel}, event ${req.index})` : ''}\npayload:\n${fullValue(ev.payload)}`;
    }
  }
}

function rawEventJson(ev: TraceEvent): Record<string, unknown> {
  switch (ev.kind) {
    case 'value':
      return { kind: ev.kind, channel: ev.channel.name, value: jsonSafe(ev.value) };
    case 'call':
      return { kind: ev.kind, channel: ev.channel.name, args: jsonSafe(ev.args), threw: ev.threw, result: jsonSafe(ev.result) };
    case 'request':
      return { kind: ev.kind, channel: ev.channel.name, request: ev.reqId, args: jsonSafe(ev.args) };
    case 'deliver':
      return { kind: ev.kind, request: ev.reqId, payload: jsonSafe(ev.payload) };
  }
}
