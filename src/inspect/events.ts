// One-line summaries of the events that are not socket traffic: clocks, randomness, timers, files,
// the environment, child processes, DNS, the process's own life and its crash. A request and the
// delivery that completes it (fs.readFile and its callback) become one line, at the request.
import { familyOf } from '../boundary/catalog.js';
import type { TraceEvent } from '../core/trace/reader.js';
import type { Entry, OrderedEntries, Pending } from './entry.js';
import { brief, bytesBrief, bytesCount, fullValue } from './render.js';

type RequestEvent = Extract<TraceEvent, { kind: 'request' }>;
type DeliverEvent = Extract<TraceEvent, { kind: 'deliver' }>;

interface OpenRequest {
  ev: RequestEvent;
  kind: string;
  pending: Pending | null;
  /** Timers, watchers, streams: more deliveries may come. */
  repeats: boolean;
  fired: number;
  label: string;
}

/** Which kind of line a channel makes; null for channels that are bookkeeping, not events worth a line. */
export function kindOf(channel: string): string | null {
  const family = familyOf(channel);
  return family ? family.timeline : 'other';
}

/** The function's name for a line: `fs.promises.readFile` → `readFile`, `time.Date.now` → `Date.now`. */
function shortName(channel: string): string {
  if (channel.startsWith('time.') || channel.startsWith('random.')) return channel.slice(channel.indexOf('.') + 1);
  return channel.replace(/^fs\.promises\./, 'promises.').replace(/^(fs|timers|dns|os|stdin|child_process)\./, '');
}

/** Arguments in a line: a path or a name first, then the rest briefly. */
function argsBrief(args: unknown): string {
  if (!Array.isArray(args)) return args === undefined ? '' : brief(args, 60);
  const parts = args.filter((a) => a !== undefined).map((a, i) => (i === 0 && typeof a === 'string' ? a : brief(a, 40)));
  const s = parts.join(' ');
  return s.length > 100 ? `${s.slice(0, 99)}…` : s;
}

/** A result in a line: sizes for file contents, error codes for errors. */
function resultBrief(v: unknown): string {
  if (v instanceof Error) return (v as NodeJS.ErrnoException).code ?? `${v.name}: ${v.message}`;
  if (Buffer.isBuffer(v)) return `${bytesCount(v.length)} ${bytesBrief(v, 30)}`;
  if (typeof v === 'string') return v.length > 40 ? `${bytesCount(Buffer.byteLength(v))} ${brief(v, 30)}` : JSON.stringify(v);
  if (v === undefined) return 'ok';
  return brief(v, 60);
}

/** A delivery's outcome: promise settlements are [ok, value]; Node callbacks are (err, ...results). */
function outcomeOf(channel: string, payload: unknown): { error: unknown; value: unknown } {
  if (Array.isArray(payload)) {
    if (/\.promises\.|^crypto\.subtle\.|^dns\.promises/.test(channel) && typeof payload[0] === 'boolean') {
      return payload[0] ? { error: null, value: payload[1] } : { error: payload[1], value: undefined };
    }
    if (payload.length >= 1 && (payload[0] === null || payload[0] === undefined || payload[0] instanceof Error)) {
      return { error: payload[0] ?? null, value: payload.length > 2 ? payload.slice(1) : payload[1] };
    }
  }
  return { error: null, value: payload };
}

function isoTime(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return brief(ms);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : `${d.toISOString()} (${ms})`;
}

export class EventSummaries {
  private readonly requests = new Map<number, OpenRequest>();

  constructor(
    private readonly process: number,
    private readonly entries: OrderedEntries,
    /** Show bookkeeping events too (setImmediate, the sequencer's marks): `--all`. */
    private readonly all: boolean,
    /** Only this event's single-event lines are wanted (`show --event N`); requests are still followed. */
    private readonly focus: number | null = null,
  ) {}

  private line(ev: TraceEvent, kind: string, summary: string, fields?: Record<string, unknown>, detail?: Entry['detail']): Entry {
    return { process: this.process, event: ev.index, time: ev.time, kind, summary, ...(fields ? { fields } : {}), ...(detail ? { detail } : {}) };
  }

  handle(ev: TraceEvent): void {
    switch (ev.kind) {
      case 'value':
        if (this.focus !== null && ev.index !== this.focus) return;
        return this.value(ev);
      case 'call':
        if (this.focus !== null && ev.index !== this.focus) return;
        return this.call(ev);
      case 'request':
        return this.request(ev);
      case 'deliver':
        return this.deliver(ev);
    }
  }

  private value(ev: Extract<TraceEvent, { kind: 'value' }>): void {
    const name = ev.channel.name;
    const kind = kindOf(name) ?? (this.all ? 'engine' : null);
    if (!kind) return;
    const v = ev.value;
    let summary: string;
    switch (name) {
      case 'time.Date.now':
      case 'time.performance.timeOrigin':
        summary = `${shortName(name)} → ${isoTime(v)}`;
        break;
      case 'time.performance.now':
        summary = `performance.now → ${typeof v === 'number' ? v.toFixed(3) : brief(v)}`;
        break;
      case 'random.Math.random':
        summary = `Math.random → ${v}`;
        break;
      case 'process.env': {
        const keys = v && typeof v === 'object' ? Object.keys(v) : [];
        summary = `environment: ${keys.length} variables`;
        this.entries.add(this.line(ev, kind, summary, { variables: keys.length }, () => ({ text: `process.env as the program saw it (event ${ev.index})\n${fullValue(v)}`, json: { env: v } })));
        return;
      }
      case 'process.event': {
        const [event, ...args] = Array.isArray(v) ? v : [v];
        summary = /^SIG/.test(String(event)) ? `signal ${event}` : `${event}${args.length ? ` ${brief(args, 60)}` : ''}`;
        break;
      }
      case 'process.exiting':
        summary = `exiting with status ${v}`;
        break;
      case 'process.end':
        return this.end(ev, v as { reason: string; exitCode: number | null; signal: string | null; error?: string });
      default:
        summary = `${shortName(name)} → ${brief(v, 60)}`;
    }
    this.entries.add(this.line(ev, kind, summary, { channel: name, value: v }));
  }

  private end(ev: TraceEvent, end: { reason: string; exitCode: number | null; signal: string | null; error?: string }): void {
    if (end.reason === 'uncaught') {
      const firstLine = (end.error ?? 'an uncaught exception').split('\n')[0]!;
      const at = /^\s+at (?:.*?\()?(.+?:\d+:\d+)\)?$/m.exec(end.error ?? '')?.[1];
      this.entries.add(
        this.line(ev, 'crash', `uncaught ${firstLine}${at ? ` at ${at.replace(/^file:\/\//, '')}` : ''} (exit status ${end.exitCode})`, { error: end.error ?? null, exitCode: end.exitCode }, () => ({
          text: `the process ended with an uncaught exception (event ${ev.index}), exit status ${end.exitCode}\n\n${end.error ?? '(the recording does not hold the exception: recorded by an older retrace-node)'}`,
          json: { reason: end.reason, exitCode: end.exitCode, error: end.error ?? null },
        })),
      );
      return;
    }
    const how = end.reason === 'signal' ? `killed by ${end.signal}` : `exit status ${end.exitCode}`;
    this.entries.add(this.line(ev, 'process', `process ended: ${how}`, { reason: end.reason, exitCode: end.exitCode, signal: end.signal }));
  }

  private call(ev: Extract<TraceEvent, { kind: 'call' }>): void {
    const name = ev.channel.name;
    const kind = kindOf(name) ?? (this.all ? 'engine' : null);
    if (!kind) return;
    let summary: string;
    if (name === 'process.exit') summary = `process.exit(${brief((ev.args as unknown[])[0])})`;
    else if (name === 'child_process.spawnSync') {
      const key = ev.args as { file?: string; args?: string[] };
      const r = ev.result as { status?: number; signal?: string; output?: unknown[]; error?: number } | null;
      summary = `spawnSync ${commandOf(key)} → ${ev.threw ? resultBrief(ev.result) : r?.error ? `error ${r.error}` : r?.signal ? `killed by ${r.signal}` : `status ${r?.status}`}`;
    } else if (name === 'child_process.kill') {
      const [child, signal] = ev.args as [number, number];
      summary = `kill child ${child} (signal ${signal})`;
    } else {
      summary = `${`${shortName(name)} ${argsBrief(ev.args)}`.trim()} → ${ev.threw ? `threw ${resultBrief(ev.result)}` : resultBrief(ev.result)}`;
    }
    this.entries.add(
      this.line(ev, kind, summary, { channel: name, threw: ev.threw }, () => ({
        text: `${name} (event ${ev.index}, a synchronous call)\n\narguments:\n${fullValue(ev.args)}\n\n${ev.threw ? 'threw' : 'returned'}:\n${fullValue(ev.result)}`,
        json: { channel: name, args: jsonSafe(ev.args), threw: ev.threw, result: jsonSafe(ev.result) },
      })),
    );
  }

  private request(ev: RequestEvent): void {
    const name = ev.channel.name;
    const kind = kindOf(name) ?? (this.all ? 'engine' : null);
    if (!kind) return;
    if (name === 'timers.setTimeout' || name === 'timers.setInterval' || name === 'timers.setImmediate') {
      const delay = Array.isArray(ev.args) ? ev.args[0] : undefined;
      const label = `${shortName(name)}${delay !== undefined ? ` ${delay} ms` : ''}`;
      this.requests.set(ev.reqId, { ev, kind, pending: null, repeats: name === 'timers.setInterval', fired: 0, label });
      this.entries.add(this.line(ev, kind, `${label} (timer ${ev.reqId})`, { timer: ev.reqId, delay }));
      return;
    }
    const repeats = /watch|stdin|createReadStream|MessageChannel|dgram/.test(name);
    const label = name === 'child_process.spawn' ? `spawn ${commandOf(ev.args as { file?: string; args?: string[] })}` : `${shortName(name)} ${argsBrief(ev.args)}`.trim();
    const open: OpenRequest = { ev, kind, pending: null, repeats, fired: 0, label };
    if (name === 'child_process.spawn') {
      this.entries.add(this.line(ev, kind, `${label} (child ${ev.reqId})`, { channel: name, child: ev.reqId }));
    } else if (repeats) {
      this.entries.add(this.line(ev, kind, `${label} (request ${ev.reqId})`, { channel: name, request: ev.reqId }));
    } else {
      open.pending = this.entries.begin(ev.index, () => this.line(ev, kind, `${label} → no result in the recording`, { channel: name, request: ev.reqId }));
    }
    this.requests.set(ev.reqId, open);
  }

  private deliver(ev: DeliverEvent): void {
    const open = this.requests.get(ev.reqId);
    if (!open) {
      if (this.all) this.entries.add(this.line(ev, 'engine', `delivery to request ${ev.reqId}: ${brief(ev.payload, 60)}`));
      return;
    }
    open.fired++;
    const name = open.ev.channel.name;
    if (name.startsWith('timers.')) {
      if (name === 'timers.setImmediate') {
        this.requests.delete(ev.reqId); // an immediate runs once
        if (!this.all) return;
      }
      const ago = ev.time - open.ev.time;
      // A timeout refreshed after it fired fires again under the same request (undici's fetch
      // timer does this for as long as requests are in flight): keep it, and number its firings.
      const nth = open.repeats || open.fired > 1 ? ` (#${open.fired})` : '';
      this.entries.add(this.line(ev, open.kind, `timer ${ev.reqId} fired: ${open.label}${nth}, set at event ${open.ev.index} (${ago.toFixed(1)} ms earlier)`, { timer: ev.reqId, setAt: open.ev.index }));
      return;
    }
    if (name === 'child_process.spawn') {
      const p = ev.payload as unknown[];
      if (Array.isArray(p) && p[0] === 0) this.entries.add(this.line(ev, 'child', `child ${ev.reqId} exited: ${p[3] ? `killed by ${p[3]}` : `status ${p[2]}`} (${open.label.slice(6)})`, { child: ev.reqId, exitCode: p[2], signal: p[3] ?? null }));
      return;
    }
    if (open.pending) {
      const { error, value } = outcomeOf(name, ev.payload);
      const request = open.ev;
      const summary = `${open.label} → ${error ? resultBrief(error) : resultBrief(value)}`;
      open.pending.finish({
        process: this.process, event: request.index, time: request.time, kind: open.kind, summary,
        fields: { channel: name, request: ev.reqId, completedAt: ev.index, error: error ? resultBrief(error) : null },
        events: [request.index, ev.index],
        detail: () => ({
          text: `${name} (event ${request.index}, completed at event ${ev.index}, ${(ev.time - request.time).toFixed(3)} ms later)\n\narguments:\n${fullValue(request.args)}\n\n${error ? 'failed' : 'result'}:\n${fullValue(error ?? value)}`,
          json: { channel: name, args: jsonSafe(request.args), error: jsonSafe(error), result: jsonSafe(value), completedAt: ev.index },
        }),
      });
      open.pending = null;
      if (!open.repeats) this.requests.delete(ev.reqId);
      return;
    }
    this.entries.add(this.line(ev, open.kind, `${open.label}: ${brief(ev.payload, 60)}`, { channel: name, request: ev.reqId }, () => ({
      text: `delivery to ${name} request ${ev.reqId} (event ${ev.index})\n${fullValue(ev.payload)}`,
      json: { channel: name, request: ev.reqId, payload: jsonSafe(ev.payload) },
    })));
  }

  close(): void {
    this.requests.clear();
  }
}

function commandOf(key: { file?: string; args?: string[] } | undefined): string {
  const args = Array.isArray(key?.args) ? key!.args.map(String) : [];
  return [key?.file ?? args[0] ?? '?', ...args.slice(1)].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** A recorded value as JSON can hold it: Buffers as base64, errors as objects, bigints as strings. */
export function jsonSafe(v: unknown, depth = 0): unknown {
  if (v === undefined || v === null || typeof v === 'boolean' || typeof v === 'string') return v ?? null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return { buffer: v.length > 4096 ? v.subarray(0, 4096).toString('base64') : v.toString('base64'), bytes: v.length };
  if (v instanceof Error) return { error: v.name, message: v.message, ...Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x, depth + 1)])) };
  if (v instanceof Date) return v.toISOString();
  if (depth > 8) return '…';
  if (Array.isArray(v)) return v.map((x) => jsonSafe(x, depth + 1));
  if (v instanceof Map) return { map: [...v].map(([k, x]) => [jsonSafe(k, depth + 1), jsonSafe(x, depth + 1)]) };
  if (v instanceof Set) return { set: [...v].map((x) => jsonSafe(x, depth + 1)) };
  if (ArrayBuffer.isView(v)) return { [v.constructor.name]: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x, depth + 1)]));
  return String(v);
}
