// The Redis protocol (RESP2 and RESP3) from the raw bytes of one connection: commands (arrays of
// bulk strings, or inline), replies paired with commands first-in first-out (pipelines, MULTI),
// and pushes the server sends on its own: pub/sub messages (RESP2 arrays in subscribed mode, RESP3
// `>` pushes), client-side caching invalidations.
import type { Entry, EventRef, Pending } from '../entry.js';
import { brief, duration } from '../render.js';
import { ByteQueue, KEEP_BYTES, type Decoder, type DecoderContext, type Sender } from './types.js';

/** Whether a client's first bytes are a RESP command array: `*<n>\r\n$`. */
export function looksLikeRespCommand(bytes: Buffer): boolean {
  return /^\*\d{1,6}\r\n\$\d{1,9}\r\n/.test(bytes.subarray(0, 32).toString('latin1'));
}

/** A decoded RESP value. Bulk strings stay Buffers until shown. */
export type RespValue =
  | { t: 'simple'; v: string }
  | { t: 'error'; v: string }
  | { t: 'int'; v: number | bigint }
  | { t: 'bulk'; v: Buffer | null }
  | { t: 'array'; v: RespValue[] | null; kind: '*' | '~' | '>' }
  | { t: 'map'; v: [RespValue, RespValue][] }
  | { t: 'null' }
  | { t: 'double'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'big'; v: string }
  | { t: 'verbatim'; v: string };

const INCOMPLETE = Symbol('incomplete');

/** Parses one value at `pos`; INCOMPLETE when the bytes end first. */
function parse(buf: Buffer, pos: number): { value: RespValue; next: number } | typeof INCOMPLETE {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return INCOMPLETE;
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.toString('utf8', pos + 1, eol);
  let next = eol + 2;
  switch (type) {
    case '+':
      return { value: { t: 'simple', v: line }, next };
    case '-':
    case '!': {
      if (type === '!') {
        const len = Number(line);
        if (buf.length < next + len + 2) return INCOMPLETE;
        return { value: { t: 'error', v: buf.toString('utf8', next, next + len) }, next: next + len + 2 };
      }
      return { value: { t: 'error', v: line }, next };
    }
    case ':': {
      const n = Number(line);
      return { value: { t: 'int', v: Number.isSafeInteger(n) ? n : BigInt(line) }, next };
    }
    case '$':
    case '=': {
      const len = Number(line);
      if (len < 0) return { value: { t: 'bulk', v: null }, next };
      if (buf.length < next + len + 2) return INCOMPLETE;
      const bytes = buf.subarray(next, next + len);
      next += len + 2;
      if (type === '=') return { value: { t: 'verbatim', v: bytes.toString('utf8').slice(4) }, next };
      return { value: { t: 'bulk', v: bytes.length > KEEP_BYTES ? Buffer.from(bytes.subarray(0, KEEP_BYTES)) : Buffer.from(bytes) }, next };
    }
    case '*':
    case '~':
    case '>': {
      const n = Number(line);
      if (n < 0) return { value: { t: 'array', v: null, kind: '*' }, next };
      const items: RespValue[] = [];
      for (let i = 0; i < n; i++) {
        const r = parse(buf, next);
        if (r === INCOMPLETE) return INCOMPLETE;
        items.push(r.value);
        next = r.next;
      }
      return { value: { t: 'array', v: items, kind: type }, next };
    }
    case '%':
    case '|': {
      const n = Number(line);
      const pairs: [RespValue, RespValue][] = [];
      for (let i = 0; i < n; i++) {
        const k = parse(buf, next);
        if (k === INCOMPLETE) return INCOMPLETE;
        const v = parse(buf, k.next);
        if (v === INCOMPLETE) return INCOMPLETE;
        pairs.push([k.value, v.value]);
        next = v.next;
      }
      if (type === '|') {
        // An attribute precedes the real reply: skip it.
        const r = parse(buf, next);
        return r;
      }
      return { value: { t: 'map', v: pairs }, next };
    }
    case '_':
      return { value: { t: 'null' }, next };
    case ',':
      return { value: { t: 'double', v: Number(line.replace(/^inf$/, 'Infinity').replace(/^-inf$/, '-Infinity')) }, next };
    case '#':
      return { value: { t: 'bool', v: line === 't' }, next };
    case '(':
      return { value: { t: 'big', v: line }, next };
    default:
      // An inline command (client side): words separated by spaces.
      return { value: { t: 'array', v: buf.toString('utf8', pos, eol).trim().split(/\s+/).map((w) => ({ t: 'bulk', v: Buffer.from(w) })), kind: '*' }, next };
  }
}

/** A RESP value as plain data (for JSON and tables): strings, numbers, arrays, objects. */
export function plain(v: RespValue): unknown {
  switch (v.t) {
    case 'bulk':
      return v.v === null ? null : v.v.toString('utf8');
    case 'array':
      return v.v === null ? null : v.v.map(plain);
    case 'map':
      return Object.fromEntries(v.v.map(([k, val]) => [String(plain(k)), plain(val)]));
    case 'null':
      return null;
    case 'int':
      return typeof v.v === 'bigint' ? v.v.toString() : v.v;
    case 'error':
      return { error: v.v };
    default:
      return v.v;
  }
}

/** A reply in one line: OK, "value", (integer) 3, (nil), (error) ERR ..., [3 items]. */
function replyBrief(v: RespValue, max = 60): string {
  switch (v.t) {
    case 'simple':
      return v.v;
    case 'error':
      return `(error) ${v.v}`;
    case 'int':
      return `(integer) ${v.v}`;
    case 'bulk':
      return v.v === null ? '(nil)' : brief(v.v.toString('utf8'), max);
    case 'null':
      return '(nil)';
    case 'array':
      if (v.v === null) return '(nil)';
      return v.v.length <= 4 ? `[${v.v.map((x) => replyBrief(x, 20)).join(', ')}]` : `[${v.v.length} items]`;
    case 'map':
      return `{${v.v.length} entries}`;
    case 'bool':
      return v.v ? '(true)' : '(false)';
    case 'verbatim':
      return brief(v.v, max);
    default:
      return String(v.v);
  }
}

function words(v: RespValue): string[] {
  if (v.t !== 'array' || !v.v) return [];
  return v.v.map((x) => (x.t === 'bulk' && x.v ? x.v.toString('utf8') : String(plain(x))));
}

/** A command in one line, arguments quoted when they need it and cut when long. */
function commandLine(args: string[]): string {
  const shown = args.slice(0, 8).map((a, i) => {
    const cut = a.length > 40 ? `${a.slice(0, 39)}…` : a;
    return i === 0 ? cut.toUpperCase() : /^[\w:.\-/*{}]+$/.test(cut) ? cut : JSON.stringify(cut);
  });
  if (args.length > 8) shown.push(`… (${args.length - 8} more)`);
  return shown.join(' ');
}

const SUBSCRIBE = new Set(['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE']);
const PUSH_KINDS = new Set(['message', 'pmessage', 'smessage', 'invalidate']);

interface CommandState {
  args: string[];
  raw: RespValue;
  reply: RespValue | null;
  /** Subscribe-family commands get one reply per channel. */
  repliesLeft: number;
  extraReplies: RespValue[];
  first: EventRef;
  last: EventRef;
  events: number[];
  pending: Pending;
}

export class RespDecoder implements Decoder {
  private readonly client = new ByteQueue();
  private readonly server = new ByteQueue();
  private readonly waiting: CommandState[] = [];
  private subscribed = false;
  private stopped = false;

  constructor(private readonly ctx: DecoderContext) {}

  push(from: Sender, bytes: Buffer, at: EventRef): void {
    if (this.stopped) return;
    const q = from === 'client' ? this.client : this.server;
    q.push(bytes);
    for (;;) {
      const buf = q.peek();
      if (buf.length === 0) return;
      const r = parse(buf, 0);
      if (r === INCOMPLETE) {
        if (buf.length > 64 * 1024 * 1024) this.stopped = true;
        return;
      }
      q.skip(r.next);
      if (from === 'client') this.command(r.value, at);
      else this.reply(r.value, at);
    }
  }

  end(at: EventRef | null): void {
    for (const cmd of this.waiting.splice(0)) {
      if (at) cmd.last = at;
      cmd.pending.finish(this.entry(cmd));
    }
  }

  private command(value: RespValue, at: EventRef): void {
    const args = words(value);
    if (args.length === 0) return;
    const name = args[0]!.toUpperCase();
    const cmd: CommandState = {
      args, raw: value, reply: null, repliesLeft: SUBSCRIBE.has(name) ? Math.max(1, args.length - 1) : 1, extraReplies: [],
      first: at, last: at, events: [at.index], pending: null as unknown as Pending,
    };
    cmd.pending = this.ctx.entries.begin(at.index, () => this.entry(cmd));
    this.waiting.push(cmd);
  }

  private reply(value: RespValue, at: EventRef): void {
    if (this.isPush(value)) {
      const parts = (value as { v: RespValue[] }).v.map(plain);
      const kind = String(parts[0]);
      const summary =
        kind === 'pmessage'
          ? `message on ${parts[2]} (pattern ${parts[1]}): ${brief(parts[3], 60)}`
          : kind === 'invalidate'
            ? `invalidate ${brief(parts[1], 60)}`
            : `message on ${parts[1]}: ${brief(parts[2], 60)}`;
      this.ctx.entries.add({
        process: this.ctx.conn.process, event: at.index, time: at.time, kind: 'redis', summary,
        fields: { push: kind, channel: kind === 'pmessage' ? parts[2] : parts[1], payload: kind === 'pmessage' ? parts[3] : parts[2], connection: this.ctx.conn.id },
        detail: () => ({ text: `Redis ${kind} pushed by the server on connection ${this.ctx.conn.id}\n${JSON.stringify(parts, null, 2)}`, json: { protocol: 'redis', push: parts } }),
      });
      return;
    }
    const cmd = this.waiting[0];
    if (!cmd) return;
    cmd.last = at;
    if (cmd.events[cmd.events.length - 1] !== at.index) cmd.events.push(at.index);
    if (cmd.reply === null) cmd.reply = value;
    else cmd.extraReplies.push(value);
    const name = cmd.args[0]!.toUpperCase();
    if (SUBSCRIBE.has(name)) {
      const count = value.t === 'array' && value.v ? plain(value.v[2]!) : null;
      this.subscribed = typeof count === 'number' ? count > 0 : !name.startsWith('UN') && !name.startsWith('PUN') && !name.startsWith('SUN');
    }
    if (--cmd.repliesLeft > 0) return;
    this.waiting.shift();
    cmd.pending.finish(this.entry(cmd));
  }

  private isPush(value: RespValue): boolean {
    if (value.t !== 'array' || !value.v || value.v.length < 2) return false;
    const head = value.v[0]!;
    const kind = head.t === 'bulk' && head.v ? head.v.toString('utf8') : head.t === 'simple' ? head.v : '';
    if (value.kind === '>') return PUSH_KINDS.has(kind) || !['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe'].includes(kind);
    return this.subscribed && PUSH_KINDS.has(kind);
  }

  private entry(cmd: CommandState): Entry {
    const took = cmd.last.time - cmd.first.time;
    const replied = cmd.reply !== null;
    return {
      process: this.ctx.conn.process,
      event: cmd.first.index,
      time: cmd.first.time,
      kind: 'redis',
      summary: `${commandLine(cmd.args)} → ${replied ? replyBrief(cmd.reply!) : 'no reply in the recording'}${replied ? ` (${duration(took)})` : ''}`,
      fields: {
        command: cmd.args[0]!.toUpperCase(),
        args: cmd.args.slice(1).map((a) => (a.length > 200 ? `${a.slice(0, 200)}…` : a)),
        reply: cmd.reply ? abbreviate(plain(cmd.reply)) : null,
        durationMs: Math.round(took * 1000) / 1000,
        connection: this.ctx.conn.id,
      },
      events: cmd.events,
      detail: () => {
        const lines = [`Redis command on connection ${this.ctx.conn.id} to ${this.ctx.conn.target}`, `events ${cmd.events.join(', ')}${replied ? `; ${duration(took)}` : ''}`, '', 'command:'];
        cmd.args.forEach((a, i) => lines.push(`  ${i === 0 ? a.toUpperCase() : `${i}. ${JSON.stringify(a)}`}`));
        lines.push('', 'reply:');
        for (const r of cmd.reply ? [cmd.reply, ...cmd.extraReplies] : []) lines.push(...pretty(r).split('\n').map((l) => `  ${l}`));
        if (!replied) lines.push('  (none in the recording)');
        return { text: lines.join('\n'), json: { protocol: 'redis', command: cmd.args, reply: cmd.reply ? plain(cmd.reply) : null, replies: cmd.extraReplies.map(plain), events: cmd.events } };
      },
    };
  }
}

/** A reply in full: JSON text is pretty-printed. */
function pretty(v: RespValue): string {
  if (v.t === 'bulk' && v.v) {
    const text = v.v.toString('utf8');
    if (/^\s*[[{]/.test(text)) {
      try {
        return `"${brief(text, 40).slice(1, -1)}" as JSON:\n${JSON.stringify(JSON.parse(text), null, 2)}`;
      } catch {
        // not JSON
      }
    }
    return JSON.stringify(text);
  }
  if (v.t === 'array' || v.t === 'map') return JSON.stringify(plain(v), null, 2);
  return replyBrief(v, 10_000);
}

function abbreviate(v: unknown): unknown {
  if (typeof v === 'string') return v.length > 200 ? `${v.slice(0, 200)}…` : v;
  if (Array.isArray(v)) return v.length > 20 ? [...v.slice(0, 20).map(abbreviate), `… ${v.length - 20} more`] : v.map(abbreviate);
  return v;
}
