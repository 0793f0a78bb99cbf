// Words for the leaves of a lineage: the recorded event an input came from, decoded from the trace.
// Socket bytes become "HTTP POST /orders request body, JSON $.coupon, event 41" or "PostgreSQL
// `SELECT ...` ['WELCOME'], row 0, column percent, event 57". No protocol decoder for `retrace show`
// existed when this was written (src/inspect/), so this holds a minimal HTTP/1 and PostgreSQL one.
import type { Origin } from './arena.js';
import type { TraceFile } from '../core/trace/reader.js';
import { walk, type LineageNode } from './tree.js';

interface Chunk {
  event: number;
  bytes: Buffer;
}

interface SocketStreams {
  channel: string;
  args: unknown;
  incoming: Chunk[];
  outgoing: Chunk[];
}

/** Fills in `origin.kind` and `origin.detail` for every input leaf of the tree. */
export function describeOrigins(tree: LineageNode | null, trace: TraceFile): void {
  if (!tree) return;
  const leaves = [...walk(tree)].filter((n) => n.origin && n.origin.kind !== 'literal');
  const wanted = new Set<number>();
  for (const n of leaves) if (n.origin!.reqId !== undefined && (n.origin!.kind === 'socket' || n.origin!.kind === 'sql')) wanted.add(n.origin!.reqId);
  const sockets = wanted.size ? readSockets(trace, wanted) : new Map<number, SocketStreams>();
  for (const n of leaves) {
    const o = n.origin!;
    try {
      if (o.kind === 'sql' && o.protocol === 'mysql') describeMysql(o, sockets.get(o.reqId!));
      else if (o.kind === 'sql') describeSql(o, sockets.get(o.reqId!));
      else if (o.kind === 'socket') describeSocket(o, sockets.get(o.reqId!));
      else o.detail = `${o.detail ?? o.channel ?? o.kind}${o.jsonPath ? `, JSON ${o.jsonPath}` : ''}${o.event !== undefined ? `, event ${o.event}` : ''}`;
    } catch {
      o.detail ??= `${o.channel ?? o.kind}${o.event !== undefined ? `, event ${o.event}` : ''}`;
    }
    n.value = n.value;
  }
}

function readSockets(trace: TraceFile, ids: Set<number>): Map<number, SocketStreams> {
  const out = new Map<number, SocketStreams>();
  for (const ev of trace.events()) {
    if (ev.kind === 'request' && ids.has(ev.reqId)) out.set(ev.reqId, { channel: ev.channel.name, args: ev.args, incoming: [], outgoing: [] });
    else if (ev.kind === 'deliver' && ids.has(ev.reqId)) {
      const p = ev.payload as unknown[];
      if (Array.isArray(p) && p[0] === 0 && Buffer.isBuffer(p[2])) out.get(ev.reqId)?.incoming.push({ event: ev.index, bytes: p[2] as Buffer });
    } else if (ev.kind === 'call' && ev.channel.name === 'net.write') {
      const a = ev.args as unknown[];
      if (Array.isArray(a) && ids.has(a[0] as number) && Buffer.isBuffer(a[1])) out.get(a[0] as number)?.outgoing.push({ event: ev.index, bytes: a[1] as Buffer });
    }
  }
  return out;
}

/** The stream offset of a byte of chunk `event`. */
function streamOffset(chunks: Chunk[], event: number, at: number): { stream: Buffer; offset: number } {
  let offset = -1;
  let total = 0;
  for (const c of chunks) {
    if (c.event === event) offset = total + at;
    total += c.bytes.length;
  }
  return { stream: Buffer.concat(chunks.map((c) => c.bytes)), offset };
}

interface HttpMessage {
  start: number;
  bodyStart: number;
  end: number;
  firstLine: string;
  headers: Map<string, string>;
}

/** HTTP/1 messages of a byte stream, in order (Content-Length and chunked bodies). */
function httpMessages(stream: Buffer): HttpMessage[] {
  const out: HttpMessage[] = [];
  let at = 0;
  while (at < stream.length) {
    const headEnd = stream.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const head = stream.subarray(at, headEnd).toString('latin1').split('\r\n');
    const headers = new Map<string, string>();
    for (const h of head.slice(1)) {
      const i = h.indexOf(':');
      if (i > 0) headers.set(h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim());
    }
    const bodyStart = headEnd + 4;
    let end = bodyStart;
    if (headers.has('content-length')) end = bodyStart + Number(headers.get('content-length'));
    else if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
      let p = bodyStart;
      for (;;) {
        const lineEnd = stream.indexOf('\r\n', p);
        if (lineEnd < 0) { p = stream.length; break; }
        const size = parseInt(stream.subarray(p, lineEnd).toString('latin1'), 16);
        p = lineEnd + 2 + (size || 0) + 2;
        if (!size) break;
      }
      end = Math.min(p, stream.length);
    } else if (/^HTTP\//.test(head[0] ?? '')) end = stream.length;
    out.push({ start: at, bodyStart, end, firstLine: head[0] ?? '', headers });
    at = end;
  }
  return out;
}

function describeSocket(o: Origin, s: SocketStreams | undefined): void {
  const event = `event ${o.event}`;
  const json = o.jsonPath ? `, JSON ${o.jsonPath}` : '';
  if (!s) {
    o.detail = `socket bytes${json}, ${event}`;
    return;
  }
  const server = s.channel.endsWith('.accepted');
  const { stream, offset } = streamOffset(s.incoming, o.event!, o.range?.[0] ?? 0);
  const first = s.incoming[0]?.bytes;
  if (first && looksLikePg(first, server)) {
    o.kind = 'sql';
    describeSql(o, s);
    return;
  }
  const isHttp = server ? /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(stream.subarray(0, 200).toString('latin1')) : stream.subarray(0, 7).toString('latin1') === 'HTTP/1.';
  if (!isHttp) {
    if (first && /^[+\-:$*]/.test(String.fromCharCode(first[0]!))) o.kind = 'redis';
    o.detail = `${o.kind === 'redis' ? 'Redis reply' : `${s.channel} bytes`}${o.range ? ` ${o.range[0]}–${o.range[1]}` : ''}${json}, ${event}`;
    return;
  }
  const messages = httpMessages(stream);
  const index = messages.findIndex((m) => offset >= m.start && offset < Math.max(m.end, m.bodyStart + 1));
  const m = messages[index];
  const part = m && offset >= m.bodyStart ? 'body' : 'head';
  const range = m && o.range ? `, bytes ${offset - (part === 'body' ? m.bodyStart : m.start)}–${offset - (part === 'body' ? m.bodyStart : m.start) + (o.range[1] - o.range[0])} of the ${part}` : '';
  if (server) {
    o.kind = 'http.request';
    const line = m ? m.firstLine.replace(/ HTTP\/1\.[01]$/, '') : 'request';
    o.detail = `HTTP ${line} request ${part}${json || range}, ${event}`;
  } else {
    o.kind = 'http.response';
    const requests = httpMessages(Buffer.concat(s.outgoing.map((c) => c.bytes)));
    const req = index >= 0 ? requests[index] : undefined;
    const host = req?.headers.get('host');
    const what = req ? `${req.firstLine.replace(/ HTTP\/1\.[01]$/, '').replace(' /', ` ${host ? `http://${host}` : ''}/`)}` : 'a request';
    const status = m ? m.firstLine.replace(/^HTTP\/1\.[01] /, '') : '';
    o.detail = `HTTP response ${status ? `(${status}) ` : ''}to ${what}, ${part}${json || range}, ${event}`;
  }
}

function looksLikePg(first: Buffer, server: boolean): boolean {
  if (server) return false;
  // a PostgreSQL server speaks first only after the startup: 'R' (authentication) or 'N'/'S' (SSL answer)
  return first.length >= 1 && (first[0] === 0x52 || ((first[0] === 0x4e || first[0] === 0x53) && first.length === 1)) && (first.length < 5 || first.readInt32BE(1) >= 4);
}

interface PgMessage {
  type: string;
  body: Buffer;
  event: number;
}

function pgMessages(chunks: Chunk[], frontend: boolean): PgMessage[] {
  const out: PgMessage[] = [];
  const events: number[] = [];
  for (const c of chunks) for (let i = 0; i < c.bytes.length; i++) events.push(c.event);
  const stream = Buffer.concat(chunks.map((c) => c.bytes));
  let at = 0;
  if (frontend) {
    // startup (and an SSL request) have no type byte
    while (at + 8 <= stream.length && stream[at] === 0) at += stream.readInt32BE(at);
  } else if (stream.length === 1 || (stream[0] === 0x4e && stream.length > 1 && stream[1] === 0x52)) at = stream[0] === 0x4e ? 1 : 0;
  while (at + 5 <= stream.length) {
    const type = String.fromCharCode(stream[at]!);
    const len = stream.readInt32BE(at + 1);
    if (len < 4) break;
    out.push({ type, body: stream.subarray(at + 5, at + 1 + len), event: events[at]! });
    at += 1 + len;
  }
  return out;
}

function cstrings(b: Buffer): string[] {
  return b.toString('utf8').split('\0');
}

function describeSql(o: Origin, s: SocketStreams | undefined): void {
  if (!s) {
    o.detail = `PostgreSQL result${o.row !== undefined ? `, row ${o.row}` : ''}${o.column ? `, column ${o.column}` : ''}, event ${o.event}`;
    return;
  }
  const backend = pgMessages(s.incoming, false);
  // the result set that completed in or before event `o.event`: its CommandComplete
  let complete = -1;
  for (let i = 0; i < backend.length; i++) if (backend[i]!.type === 'C' && backend[i]!.event <= o.event!) complete = i;
  let rowDesc = -1;
  for (let i = complete; i >= 0; i--) if (backend[i]!.type === 'T') { rowDesc = i; break; }
  const rows = backend.slice(rowDesc + 1, complete).filter((m) => m.type === 'D');
  const nth = backend.slice(0, complete + 1).filter((m) => m.type === 'C').length - 1;
  // the statement executed nth (simple queries and extended-protocol executions, in order)
  const frontend = pgMessages(s.outgoing, true);
  const named = new Map<string, string>();
  const executed: { text: string; params: string[] }[] = [];
  let lastParse = '';
  let bound: { text: string; params: string[] } | null = null;
  for (const m of frontend) {
    if (m.type === 'Q') executed.push({ text: cstrings(m.body)[0]!, params: [] });
    else if (m.type === 'P') {
      const [name, text] = cstrings(m.body);
      lastParse = text!;
      named.set(name!, text!);
    } else if (m.type === 'B') bound = { text: named.get(cstrings(m.body)[1]!) ?? lastParse, params: bindParams(m.body) };
    else if (m.type === 'E') {
      executed.push(bound ?? { text: lastParse, params: [] });
      bound = null;
    }
  }
  const stmt = executed[nth];
  const row = o.row ?? 0;
  const rowEvent = rows[row]?.event ?? o.event;
  o.event = rowEvent;
  const query = stmt ? `\`${stmt.text.replace(/\s+/g, ' ').trim()}\`${stmt.params.length ? ` [${stmt.params.map((p) => `'${p}'`).join(', ')}]` : ''}` : 'query';
  o.detail = `PostgreSQL ${query}${o.row !== undefined ? `, row ${o.row}` : ''}${o.column ? `, column ${o.column}` : ''}${o.jsonPath ? `, JSON ${o.jsonPath}` : ''}, event ${rowEvent}`;
}

/** MySQL: the last statement the program sent on the connection before the reply (COM_QUERY or COM_STMT_PREPARE). */
function describeMysql(o: Origin, s: SocketStreams | undefined): void {
  let query = 'query';
  if (s) {
    for (const c of s.outgoing) {
      if (c.event > o.event!) break;
      let at = 0;
      while (at + 4 <= c.bytes.length) {
        const len = c.bytes.readUIntLE(at, 3);
        const payload = c.bytes.subarray(at + 4, at + 4 + len);
        if ((payload[0] === 0x03 || payload[0] === 0x16) && len > 1) query = `\`${payload.subarray(1).toString('utf8').replace(/\s+/g, ' ').trim()}\``;
        at += 4 + len;
      }
    }
  }
  o.detail = `MySQL ${query}${o.row !== undefined ? `, row ${o.row}` : ''}${o.column ? `, column ${o.column}` : ''}, event ${o.event}`;
}

function bindParams(body: Buffer): string[] {
  let at = 0;
  const skipCString = () => {
    while (body[at] !== 0) at++;
    at++;
  };
  skipCString();
  skipCString();
  const formats = body.readInt16BE(at);
  at += 2 + formats * 2;
  const n = body.readInt16BE(at);
  at += 2;
  const params: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(at);
    at += 4;
    if (len < 0) params.push('NULL');
    else {
      params.push(body.subarray(at, at + len).toString('utf8'));
      at += len;
    }
  }
  return params;
}
