// The PostgreSQL frontend/backend protocol (version 3) from the raw bytes of one connection: the
// startup, simple queries (Q), the extended protocol (Parse/Bind/Describe/Execute/Sync, named
// prepared statements), result sets (RowDescription/DataRow/CommandComplete), errors, notices and
// LISTEN/NOTIFY notifications. Each query, up to the server's ReadyForQuery, is one entry.
import type { Entry, EventRef, Pending } from '../entry.js';
import { brief, duration, indentLines, plural, table } from '../render.js';
import { ByteQueue, type Decoder, type DecoderContext, type Sender } from './types.js';

const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Rows kept per result for display; the count is always exact. */
const KEEP_ROWS = 1000;

/** Whether a client's first bytes are a PostgreSQL startup, SSL or GSS encryption request. */
export function looksLikePostgresStartup(bytes: Buffer): boolean {
  if (bytes.length < 8) return false;
  const length = bytes.readInt32BE(0);
  const code = bytes.readInt32BE(4);
  return length >= 8 && length < 10_000 && (code === PROTOCOL_3 || code === SSL_REQUEST || code === GSSENC_REQUEST || code === CANCEL_REQUEST);
}

export interface PostgresStatement {
  text: string;
  params: (string | null)[];
  /** Parameters in binary format, shown as hex. */
  binary: boolean[];
  name: string;
}

export interface PostgresResult {
  columns: { name: string; type: number }[];
  rows: (string | null)[][];
  rowCount: number;
  tag: string | null;
  /** The events the rows arrived in: from row `row` on, event `event` (one pair where the event changes). */
  rowEvents: { row: number; event: number }[];
  /** The event that carried its CommandComplete. */
  completedAt: number | null;
}

/** A query (or the startup) and everything the server answered to it, up to ReadyForQuery. */
export interface PostgresUnit {
  kind: 'startup' | 'query';
  statements: PostgresStatement[];
  results: PostgresResult[];
  error: Record<string, string> | null;
  notices: string[];
  first: EventRef;
  last: EventRef;
  events: number[];
  complete: boolean;
  startup?: Record<string, string>;
  pending: Pending | null;
}

export class PostgresDecoder implements Decoder {
  private readonly client = new ByteQueue();
  private readonly server = new ByteQueue();
  private startupDone = false;
  private sslReplyExpected = false;
  /** Client messages since the last Sync or Query: the unit being built. */
  private building: PostgresUnit | null = null;
  private readonly waiting: PostgresUnit[] = [];
  private readonly prepared = new Map<string, string>();
  private currentResult: PostgresResult | null = null;
  private stopped = false;

  constructor(private readonly ctx: DecoderContext) {}

  push(from: Sender, bytes: Buffer, at: EventRef): void {
    if (this.stopped) return;
    if (from === 'client') {
      this.client.push(bytes);
      this.readClient(at);
    } else {
      this.server.push(bytes);
      this.readServer(at);
    }
  }

  end(at: EventRef | null): void {
    for (const unit of this.waiting.splice(0)) {
      if (at) unit.last = at;
      this.finish(unit);
    }
  }

  private newUnit(kind: PostgresUnit['kind'], at: EventRef): PostgresUnit {
    return { kind, statements: [], results: [], error: null, notices: [], first: at, last: at, events: [at.index], complete: false, pending: null };
  }

  private touch(unit: PostgresUnit, at: EventRef): void {
    unit.last = at;
    if (unit.events[unit.events.length - 1] !== at.index) unit.events.push(at.index);
  }

  private queue(unit: PostgresUnit): void {
    unit.pending = this.ctx.entries.begin(unit.first.index, () => this.entry(unit));
    this.waiting.push(unit);
  }

  private readClient(at: EventRef): void {
    const q = this.client;
    while (!this.stopped) {
      if (!this.startupDone) {
        if (q.length < 8) return;
        const length = q.peek().readInt32BE(0);
        if (length < 8 || length > 10_000) return this.stop();
        if (q.length < length) return;
        const msg = q.take(length);
        const code = msg.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.sslReplyExpected = true;
          continue;
        }
        if (code === CANCEL_REQUEST) {
          this.ctx.entries.add(this.plain(at, `cancel request for backend ${msg.readInt32BE(8)}`, { command: 'cancel' }));
          return this.stop();
        }
        const params: Record<string, string> = {};
        const parts = msg.subarray(8).toString('utf8').split('\0');
        for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i]) params[parts[i]!] = parts[i + 1]!;
        const unit = this.newUnit('startup', at);
        unit.startup = params;
        this.startupDone = true;
        this.queue(unit);
        continue;
      }
      const message = this.takeMessage(q);
      if (!message) return;
      this.clientMessage(message.tag, message.body, at);
    }
  }

  /**
   * One message after the startup phase, in either direction: a tag byte, an int32 length that
   * counts itself, the body. Null while it has not all arrived, or when the length is impossible
   * (then decoding stops).
   */
  private takeMessage(q: ByteQueue): { tag: string; body: Buffer } | null {
    if (q.length < 5) return null;
    const data = q.peek();
    const length = data.readInt32BE(1);
    if (length < 4) {
      this.stop();
      return null;
    }
    if (q.length < length + 1) return null;
    return { tag: String.fromCharCode(data[0]!), body: q.take(length + 1).subarray(5) };
  }

  private clientMessage(tag: string, body: Buffer, at: EventRef): void {
    const unit = () => (this.building ??= this.newUnit('query', at));
    switch (tag) {
      case 'Q': {
        const u = unit();
        this.touch(u, at);
        u.statements.push({ text: cstring(body, 0).value, params: [], binary: [], name: '' });
        this.building = null;
        this.queue(u);
        return;
      }
      case 'P': {
        const name = cstring(body, 0);
        const text = cstring(body, name.next).value;
        this.prepared.set(name.value, text);
        this.touch(unit(), at);
        return;
      }
      case 'B': {
        const u = unit();
        this.touch(u, at);
        const portal = cstring(body, 0);
        const stmt = cstring(body, portal.next);
        let p = stmt.next;
        const nFormats = body.readInt16BE(p);
        p += 2;
        const formats: number[] = [];
        for (let i = 0; i < nFormats; i++, p += 2) formats.push(body.readInt16BE(p));
        const nParams = body.readInt16BE(p);
        p += 2;
        const params: (string | null)[] = [];
        const binary: boolean[] = [];
        for (let i = 0; i < nParams; i++) {
          const len = body.readInt32BE(p);
          p += 4;
          const isBinary = (nFormats === 1 ? formats[0] : formats[i]) === 1;
          binary.push(isBinary);
          if (len < 0) params.push(null);
          else {
            const v = body.subarray(p, p + len);
            params.push(isBinary ? `\\x${v.toString('hex')}` : v.toString('utf8'));
            p += len;
          }
        }
        u.statements.push({ text: this.prepared.get(stmt.value) ?? `(prepared statement ${JSON.stringify(stmt.value)})`, params, binary, name: stmt.value });
        return;
      }
      case 'S': {
        // Sync ends an extended-protocol batch; the server answers it with ReadyForQuery.
        const u = unit();
        this.touch(u, at);
        this.building = null;
        this.queue(u);
        return;
      }
      case 'p': {
        // Password or SASL response: part of the startup exchange; its content is not shown.
        const startup = this.waiting.find((u) => u.kind === 'startup');
        if (startup) this.touch(startup, at);
        return;
      }
      case 'X':
        return;
      default:
        // D (Describe), E (Execute), C (Close), H (Flush): part of the batch.
        this.touch(unit(), at);
    }
  }

  private readServer(at: EventRef): void {
    const q = this.server;
    while (!this.stopped) {
      if (this.sslReplyExpected) {
        if (q.length < 1) return;
        q.skip(1); // 'S' or 'N'
        this.sslReplyExpected = false;
        continue;
      }
      const message = this.takeMessage(q);
      if (!message) return;
      this.serverMessage(message.tag, message.body, at);
    }
  }

  private serverMessage(tag: string, body: Buffer, at: EventRef): void {
    if (tag === 'A') {
      const pid = body.readInt32BE(0);
      const channel = cstring(body, 4);
      const payload = cstring(body, channel.next).value;
      this.ctx.entries.add(
        this.plain(at, `notification on ${channel.value}: ${brief(payload, 80)}`, { notification: { channel: channel.value, payload, fromBackend: pid } }),
      );
      return;
    }
    const unit = this.waiting[0];
    if (!unit) return;
    this.touch(unit, at);
    switch (tag) {
      case 'T': {
        const n = body.readInt16BE(0);
        let p = 2;
        const columns: PostgresResult['columns'] = [];
        for (let i = 0; i < n; i++) {
          const name = cstring(body, p);
          p = name.next;
          const type = body.readInt32BE(p + 6);
          p += 18;
          columns.push({ name: name.value, type });
        }
        this.currentResult = newResult(columns, null);
        unit.results.push(this.currentResult);
        return;
      }
      case 'D': {
        let result = this.currentResult;
        if (!result) {
          result = this.currentResult = newResult([], null);
          unit.results.push(result);
        }
        if (result.rowEvents[result.rowEvents.length - 1]?.event !== at.index) result.rowEvents.push({ row: result.rowCount, event: at.index });
        result.rowCount++;
        if (result.rows.length < KEEP_ROWS) {
          const n = body.readInt16BE(0);
          let p = 2;
          const row: (string | null)[] = [];
          for (let i = 0; i < n; i++) {
            const len = body.readInt32BE(p);
            p += 4;
            if (len < 0) row.push(null);
            else {
              row.push(body.toString('utf8', p, p + len));
              p += len;
            }
          }
          result.rows.push(row);
        }
        return;
      }
      case 'C': {
        const tagText = cstring(body, 0).value;
        if (this.currentResult && this.currentResult.tag === null) {
          this.currentResult.tag = tagText;
          this.currentResult.completedAt = at.index;
        } else unit.results.push({ ...newResult([], tagText), completedAt: at.index });
        this.currentResult = null;
        return;
      }
      case 'I':
        unit.results.push({ ...newResult([], '(empty query)'), completedAt: at.index });
        return;
      case 'E':
        unit.error = errorFields(body);
        this.currentResult = null;
        return;
      case 'N': {
        const f = errorFields(body);
        unit.notices.push(`${f.severity ?? 'NOTICE'}: ${f.message ?? ''}`);
        return;
      }
      case 'Z':
        this.waiting.shift();
        this.currentResult = null;
        unit.complete = true;
        this.finish(unit);
        return;
      default:
      // R (authentication), S (parameter status), K (backend key), 1/2/3 (parse, bind, close
      // complete), n (no data), t (parameter description), s (portal suspended): nothing to show.
    }
  }

  private finish(unit: PostgresUnit): void {
    unit.pending?.finish(this.entry(unit));
    unit.pending = null;
  }

  private stop(): void {
    this.stopped = true;
  }

  private plain(at: EventRef, summary: string, fields: Record<string, unknown>): Entry {
    return { process: this.ctx.conn.process, event: at.index, time: at.time, kind: 'pg', summary, fields: { db: 'postgres', connection: this.ctx.conn.id, ...fields } };
  }

  private entry(unit: PostgresUnit): Entry {
    const took = unit.last.time - unit.first.time;
    let summary: string;
    const fields: Record<string, unknown> = { db: 'postgres', connection: this.ctx.conn.id };
    if (unit.kind === 'startup') {
      const s = unit.startup ?? {};
      summary = `connect ${s.user ?? '?'}@${s.database ?? s.user ?? '?'}`;
      fields.command = 'connect';
      fields.user = s.user;
      fields.database = s.database ?? s.user;
    } else {
      const texts = unit.statements.map((st) => oneLine(st.text));
      const params = unit.statements.flatMap((st) => st.params);
      summary = texts.length === 0 ? '(no statement)' : texts.length === 1 ? texts[0]! : `${texts[0]} (+${texts.length - 1} more)`;
      summary = summary.length > 120 ? `${summary.slice(0, 119)}…` : summary;
      if (params.length > 0) summary += ` ${brief(params, 60)}`;
      fields.query = unit.statements.length === 1 ? unit.statements[0]!.text : unit.statements.map((st) => st.text);
      fields.params = params;
      fields.rowCount = unit.results.reduce((n, r) => n + r.rowCount, 0);
      fields.commands = unit.results.map((r) => r.tag);
    }
    let outcome: string;
    if (unit.error) {
      outcome = `ERROR ${unit.error.code ?? ''}: ${unit.error.message ?? ''}`.replace(/ :/, ':');
      fields.error = unit.error;
    } else if (!unit.complete) outcome = 'no reply in the recording';
    else if (unit.kind === 'startup') outcome = 'ready';
    else outcome = resultSummary(unit.results);
    return {
      process: this.ctx.conn.process,
      event: unit.first.index,
      time: unit.first.time,
      kind: 'pg',
      summary: `${summary} → ${outcome}${unit.complete ? ` (${duration(took)})` : ''}`,
      fields: { ...fields, durationMs: Math.round(took * 1000) / 1000 },
      events: unit.events,
      detail: () => this.detail(unit, took),
      decoded: { protocol: 'pg', unit },
    };
  }

  private detail(unit: PostgresUnit, took: number): { text: string; json: Record<string, unknown> } {
    const c = this.ctx.conn;
    const lines = [`PostgreSQL ${unit.kind === 'startup' ? 'connection startup' : 'query'} on connection ${c.id} to ${c.target}`];
    lines.push(`events ${unit.events.join(', ')}; ${unit.complete ? `${duration(took)} from the first message to ReadyForQuery` : 'no ReadyForQuery in the recording'}`);
    if (unit.startup) {
      lines.push('', 'startup parameters:');
      for (const [k, v] of Object.entries(unit.startup)) lines.push(`  ${k} = ${v}`);
    }
    for (const st of unit.statements) {
      lines.push('', `query${st.name ? ` (prepared statement "${st.name}")` : ''}:`, indentLines(st.text.trim(), '  '));
      if (st.params.length > 0) {
        lines.push('parameters:');
        st.params.forEach((p, i) => lines.push(`  $${i + 1} = ${p === null ? 'NULL' : JSON.stringify(p)}`));
      }
    }
    for (const r of unit.results) {
      lines.push('', `${r.tag ?? '(no command tag)'}${r.columns.length ? `: ${plural(r.rowCount, 'row')}` : ''}`);
      if (r.columns.length > 0) lines.push(table(r.columns.map((col) => col.name), r.rows));
      if (r.rowCount > r.rows.length) lines.push(`  (${r.rowCount - r.rows.length} more rows not kept)`);
    }
    if (unit.notices.length) lines.push('', 'notices:', ...unit.notices.map((n) => `  ${n}`));
    if (unit.error) {
      lines.push('', 'error:');
      for (const [k, v] of Object.entries(unit.error)) lines.push(`  ${k}: ${v}`);
    }
    return {
      text: lines.join('\n'),
      json: {
        protocol: 'postgres',
        connection: { id: c.id, target: c.target, peer: c.peer },
        startup: unit.startup ?? null,
        statements: unit.statements.map((st) => ({ text: st.text, params: st.params, name: st.name || null })),
        results: unit.results.map((r) => ({ command: r.tag, columns: r.columns.map((col) => ({ name: col.name, typeOid: col.type })), rowCount: r.rowCount, rows: r.rows })),
        notices: unit.notices,
        error: unit.error,
        complete: unit.complete,
        durationMs: Math.round(took * 1000) / 1000,
        events: unit.events,
      },
    };
  }
}

function newResult(columns: PostgresResult['columns'], tag: string | null): PostgresResult {
  return { columns, rows: [], rowCount: 0, tag, rowEvents: [], completedAt: null };
}

/** The event that carried row `row` of a result (null when the result has no such row). */
export function rowEvent(result: PostgresResult, row: number): number | null {
  if (row < 0 || row >= result.rowCount) return null;
  let event: number | null = null;
  for (const r of result.rowEvents) {
    if (r.row > row) break;
    event = r.event;
  }
  return event;
}

function resultSummary(results: PostgresResult[]): string {
  if (results.length === 0) return 'ok';
  const parts = results.map((r) => {
    if (r.columns.length > 0 || /^(SELECT|FETCH)\b/.test(r.tag ?? '')) return plural(r.rowCount, 'row');
    const m = /^(INSERT \d+|UPDATE|DELETE|MERGE|COPY|MOVE) (\d+)$/.exec(r.tag ?? '') ?? /^(INSERT) \d+ (\d+)$/.exec(r.tag ?? '');
    if (m) return `${m[1]!.split(' ')[0]} ${plural(Number(m[2]), 'row')}`;
    return r.tag ?? 'ok';
  });
  return parts.length > 3 ? `${parts.slice(0, 3).join('; ')}; …` : parts.join('; ');
}

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

function cstring(buf: Buffer, at: number): { value: string; next: number } {
  let end = buf.indexOf(0, at);
  if (end < 0) end = buf.length;
  return { value: buf.toString('utf8', at, end), next: end + 1 };
}

const ERROR_FIELDS: Record<string, string> = {
  S: 'severity', V: 'severity', C: 'code', M: 'message', D: 'detail', H: 'hint', P: 'position', p: 'internalPosition',
  q: 'internalQuery', W: 'where', s: 'schema', t: 'table', c: 'column', d: 'dataType', n: 'constraint', F: 'file', L: 'line', R: 'routine',
};

function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let p = 0;
  while (p < body.length && body[p] !== 0) {
    const key = String.fromCharCode(body[p]!);
    const s = cstring(body, p + 1);
    const name = ERROR_FIELDS[key] ?? key;
    if (!(name in out)) out[name] = s.value;
    p = s.next;
  }
  return out;
}
