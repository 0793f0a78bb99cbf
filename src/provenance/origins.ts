// Words for the leaves of a lineage: the recorded event an input came from, decoded from the trace.
// Socket bytes become "HTTP POST /orders request body, JSON $.coupon, event 41" or "PostgreSQL
// `SELECT ...` ['WELCOME'], row 0, column percent, event 57". The bytes are decoded by the protocol
// decoders of `retrace show` (src/inspect/), so that each protocol has one decoder: one timeline pass
// over the trace keeps the entries that hold an input's event, and their decoded exchanges say which
// message, statement or result set the input's bytes belong to.
import type { Origin } from './arena.js';
import type { TraceFile } from '../core/trace/reader.js';
import type { Entry } from '../inspect/entry.js';
import { header, locate, type HttpExchange, type HttpMessage } from '../inspect/protocols/http.js';
import type { MysqlCommand } from '../inspect/protocols/mysql.js';
import { rowEvent, type PostgresUnit } from '../inspect/protocols/postgres.js';
import { processTimeline } from '../inspect/timeline.js';
import { walk, type LineageNode } from './tree.js';
import { containsPlaceholder, isPlaceholder } from '../redaction/secrets.js';

/** Kinds whose words the provenance runtime wrote (an env name, a file path): the JSON path and event are added. */
const PLAIN = new Set(['env', 'random', 'time', 'file', 'stdin', 'other']);

/** Fills in `origin.kind` and `origin.detail` for every input leaf of the tree. */
export function describeOrigins(tree: LineageNode | null, trace: TraceFile): void {
  if (!tree) return;
  const leaves = [...walk(tree)].filter((n) => n.origin && n.origin.kind !== 'literal');
  const wanted = new Set<number>();
  for (const n of leaves) if ((n.origin!.kind === 'socket' || n.origin!.kind === 'sql') && n.origin!.event !== undefined) wanted.add(n.origin!.event);
  const holding = wanted.size ? entriesHolding(trace, wanted) : new Map<number, Entry[]>();
  for (const n of leaves) {
    const o = n.origin!;
    try {
      if (o.kind === 'socket' || o.kind === 'sql') describeBytes(o, o.event === undefined ? [] : (holding.get(o.event) ?? []));
      else if (PLAIN.has(o.kind)) o.detail = `${o.detail ?? o.channel ?? o.kind}${redactedWords(o, trace)}${jsonWords(o)}${eventWords(o)}`;
      // A kind this file does not know (the runtime's 'outside'): its own words, as they are.
      else o.detail ??= `${o.channel ?? o.kind}${eventWords(o)}`;
    } catch {
      o.detail ??= `${o.channel ?? o.kind}${eventWords(o)}`;
    }
  }
}

/** ", redacted" for an environment variable the recording holds as a placeholder (redaction/). */
function redactedWords(o: Origin, trace: TraceFile): string {
  const name = o.kind === 'env' && trace.header.redaction ? /^env (\S+)/.exec(o.detail ?? '')?.[1] : undefined;
  if (!name || o.event === undefined) return '';
  for (const ev of trace.events()) {
    if (ev.index > o.event) break;
    if (ev.index !== o.event || ev.kind !== 'value') continue;
    const value = (ev.value as Record<string, unknown> | null)?.[name];
    if (typeof value !== 'string') return '';
    if (isPlaceholder(value)) return ', redacted';
    return containsPlaceholder(value) ? ", its URL's password redacted" : '';
  }
  return '';
}

function jsonWords(o: Origin): string {
  return o.jsonPath ? `, JSON ${o.jsonPath}` : '';
}

function eventWords(o: Origin): string {
  return o.event !== undefined ? `, event ${o.event}` : '';
}

/**
 * The timeline entries that hold each wanted event (several when one chunk carried pipelined
 * messages). An event of socket bytes belongs to one connection, so the entries holding it are that
 * connection's, whichever request id (a TLS upgrade's or the raw socket's) the input was heard on.
 */
function entriesHolding(trace: TraceFile, wanted: Set<number>): Map<number, Entry[]> {
  const out = new Map<number, Entry[]>();
  // focus -1: no single-event line of the plain events is wanted, only the socket layer's entries.
  for (const entry of processTimeline(trace, { focus: -1 })) {
    const events = new Set(entry.events ?? []);
    events.add(entry.event);
    for (const e of events) {
      if (!wanted.has(e)) continue;
      const list = out.get(e);
      if (list) list.push(entry);
      else out.set(e, [entry]);
    }
  }
  return out;
}

function describeBytes(o: Origin, entries: Entry[]): void {
  const http: HttpExchange[] = [];
  const pg: PostgresUnit[] = [];
  const mysql: MysqlCommand[] = [];
  for (const e of entries) {
    if (e.decoded?.protocol === 'http') http.push(e.decoded.exchange);
    else if (e.decoded?.protocol === 'pg') pg.push(e.decoded.unit);
    else if (e.decoded?.protocol === 'mysql') mysql.push(e.decoded.command);
  }
  const redis = entries.filter((e) => e.kind === 'redis');
  if (o.kind === 'sql' ? o.protocol === 'mysql' : mysql.length > 0) return describeMysql(o, mysql);
  if (o.kind === 'sql' || pg.length > 0) return describePostgres(o, pg);
  if (http.length > 0) return describeHttp(o, http, entries.find((e) => e.decoded?.protocol === 'http')!.kind === 'http.in');
  const range = o.range ? ` ${o.range[0]}–${o.range[1]}` : '';
  if (redis.length > 0) {
    o.kind = 'redis';
    // The command it answers, when the chunk holds the reply to one command only (not a pipeline's).
    const f = redis.length === 1 ? redis[0]!.fields : undefined;
    const command = typeof f?.command === 'string' ? [f.command, ...(Array.isArray(f.args) ? (f.args as unknown[]).map(String) : [])].join(' ') : '';
    o.detail = `Redis reply${command ? ` to \`${command.length > 80 ? `${command.slice(0, 79)}…` : command}\`` : ''}${range}${jsonWords(o)}${eventWords(o)}`;
    return;
  }
  o.detail = `${o.channel ?? 'socket'} bytes${range}${jsonWords(o)}${eventWords(o)}`;
}

/** The message of an exchange that holds the input's first byte (a request for a server, a response for a client). */
function describeHttp(o: Origin, exchanges: HttpExchange[], inbound: boolean): void {
  const at = o.range?.[0] ?? 0;
  let found: { exchange: HttpExchange; message: HttpMessage; part: 'head' | 'body' | null; offset: number } | null = null;
  search: for (const exchange of exchanges) {
    for (const message of received(exchange, inbound)) {
      const where = locate(message, o.event!, at);
      if (where) {
        found = { exchange, message, ...where };
        break search;
      }
    }
  }
  if (!found) {
    // Bytes that are neither head nor body (chunked framing): the message of the nearest head or body
    // bytes before them in the chunk, named without a part.
    let nearest = -1;
    for (const exchange of exchanges) {
      for (const message of received(exchange, inbound)) {
        for (const s of message.spans) {
          if (s.event === o.event && s.from <= at && s.from > nearest) {
            nearest = s.from;
            found = { exchange, message, part: null, offset: 0 };
          }
        }
      }
    }
    // Framing before any head or body bytes of the chunk: the first message the chunk continues.
    const exchange = exchanges[0]!;
    found ??= { exchange, message: received(exchange, inbound).find((m) => m.spans.some((s) => s.event === o.event)) ?? exchange.request, part: null, offset: 0 };
  }
  const { exchange, message, part, offset } = found;
  const encoding = part === 'body' ? (header(message, 'content-encoding') ?? '').trim().toLowerCase() : '';
  const range =
    part && o.range && !o.jsonPath
      ? `, bytes ${offset}–${offset + (o.range[1] - o.range[0])} of the ${encoding && encoding !== 'identity' ? `${encoding}-encoded ` : ''}${part}`
      : '';
  o.kind = inbound ? 'http.request' : 'http.response';
  if (inbound) o.detail = `HTTP ${exchange.method} ${exchange.target} request${part ? ` ${part}` : ''}${jsonWords(o)}${range}${eventWords(o)}`;
  else {
    const status = message === exchange.request ? '' : message.startLine.replace(/^HTTP\/\d\.\d /, '');
    o.detail = `HTTP response ${status ? `(${status}) ` : ''}to ${exchange.method} ${exchange.url}${part ? `, ${part}` : ''}${jsonWords(o)}${range}${eventWords(o)}`;
  }
}

/** The messages of an exchange the program received: the request for a server, the responses for a client. */
function received(exchange: HttpExchange, inbound: boolean): HttpMessage[] {
  return inbound ? [exchange.request] : [...exchange.interim, ...(exchange.response ? [exchange.response] : [])];
}

/**
 * The result set that completed in or before the input's event (the runtime names the last chunk of
 * the reply it was given), the statement that produced it, and the event of the row.
 */
function describePostgres(o: Origin, units: PostgresUnit[]): void {
  let unit: PostgresUnit | undefined;
  let index = -1;
  for (const u of units) {
    u.results.forEach((r, i) => {
      if (r.completedAt !== null && r.completedAt <= o.event!) {
        unit = u;
        index = i;
      }
    });
  }
  if (!unit) {
    unit = units.findLast((u) => u.kind === 'query');
    index = unit ? unit.results.length - 1 : -1;
  }
  const result = unit?.results[index];
  // An Execute per statement in an extended-protocol batch; a simple query of several statements is one text.
  const stmt = unit?.statements[Math.min(Math.max(index, 0), unit.statements.length - 1)];
  const params = stmt?.params.length ? ` [${stmt.params.map((p) => (p === null ? 'NULL' : `'${p}'`)).join(', ')}]` : '';
  const event = (result && rowEvent(result, o.row ?? 0)) ?? o.event;
  o.kind = 'sql';
  o.event = event;
  o.detail = `PostgreSQL ${stmt ? `\`${oneLine(stmt.text)}\`${params}` : 'query'}${rowWords(o)}${jsonWords(o)}${eventWords(o)}`;
}

/** The command whose reply the input's event carried: of the commands holding it, the last that returned rows. */
function describeMysql(o: Origin, commands: MysqlCommand[]): void {
  const cmd = commands.findLast((c) => c.results.some((r) => r.columns.length > 0)) ?? commands[commands.length - 1];
  const params = cmd?.params.length ? ` [${cmd.params.map(sqlValue).join(', ')}]` : '';
  o.kind = 'sql';
  o.protocol = 'mysql';
  const what = cmd?.text != null ? `\`${oneLine(cmd.text)}\`${params}` : cmd?.login ? 'login' : cmd ? `COM_${cmd.name}` : 'query';
  o.detail = `MySQL ${what}${rowWords(o)}${jsonWords(o)}${eventWords(o)}`;
}

function rowWords(o: Origin): string {
  return `${o.row !== undefined ? `, row ${o.row}` : ''}${o.column ? `, column ${o.column}` : ''}`;
}

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

function sqlValue(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (Buffer.isBuffer(v)) return `x'${v.toString('hex')}'`;
  return typeof v === 'string' ? `'${v}'` : String(v);
}
