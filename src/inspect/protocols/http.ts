// HTTP/1.x from the raw bytes of one connection: requests and responses in order (keep-alive and
// pipelining pair them first-in first-out), bodies by Content-Length, chunked encoding or the end
// of the connection, and upgrades (101, CONNECT), after which the bytes are no longer HTTP.
import * as zlib from 'node:zlib';
import type { Entry, EventRef, Pending } from '../entry.js';
import { bytesCount, duration, prettyBody } from '../render.js';
import { ByteQueue, KEEP_BYTES, type Decoder, type DecoderContext, type Sender } from './types.js';

const METHOD = /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE|PROPFIND|PROPPATCH|MKCOL|COPY|MOVE|LOCK|UNLOCK|REPORT|SEARCH|PURGE|LINK|UNLINK|SUBSCRIBE|UNSUBSCRIBE|NOTIFY|M-SEARCH|MERGE|CHECKOUT|MKACTIVITY|QUERY) \S+ HTTP\/1\.[01]\r?\n/;

/** Whether a client's first bytes are an HTTP/1 request line (or the start of one). */
export function looksLikeHttpRequest(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 2048).toString('latin1');
  if (METHOD.test(head)) return true;
  // A request line not yet complete: a known method and a space, then no control characters.
  return !head.includes('\n') && /^[A-Z-]{3,11} \S*$/.test(head) && METHOD.test(`${head.split(' ')[0]} / HTTP/1.1\r\n`);
}

/**
 * Where some bytes of a message were recorded: bytes [from, to) of the chunk of event `event`, which
 * are the message's head or body from `offset` on (body offsets count the body without its chunked
 * framing). `retrace why` names the message an input byte came from by them, pipelined or not.
 */
export interface ByteSpan {
  event: number;
  from: number;
  to: number;
  part: 'head' | 'body';
  offset: number;
}

export interface HttpMessage {
  startLine: string;
  headers: [string, string][];
  body: Buffer;
  /** The body's full length when only the first KEEP_BYTES were kept. */
  bodyLength: number;
  chunked: boolean;
  first: EventRef;
  last: EventRef;
  complete: boolean;
  events: number[];
  spans: ByteSpan[];
}

/** Where byte `at` of event `event`'s chunk is in `msg`: its head or body, and the offset there; null when not in it. */
export function locate(msg: HttpMessage, event: number, at: number): { part: 'head' | 'body'; offset: number } | null {
  for (const s of msg.spans) if (s.event === event && at >= s.from && at < s.to) return { part: s.part, offset: s.offset + (at - s.from) };
  return null;
}

export interface HttpExchange {
  method: string;
  target: string;
  url: string;
  request: HttpMessage;
  response: HttpMessage | null;
  /** Interim (1xx) responses before the final one. */
  interim: HttpMessage[];
}

type BodyMode = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/** One direction of an HTTP connection: bytes in, messages out. */
class MessageParser {
  private readonly queue = new ByteQueue();
  private current: HttpMessage | null = null;
  private mode: BodyMode = { kind: 'none' };
  private bodyChunks: Buffer[] = [];
  private kept = 0;
  /** In chunked mode: bytes left in the current chunk; -1 when a size line comes next; -2 trailers. */
  private chunkLeft = -1;
  /** The chunks whose bytes are still queued: their event and where they lie in this direction's stream. */
  private readonly chunks: { event: number; start: number; end: number }[] = [];
  private pushed = 0;
  stopped = false;

  constructor(
    private readonly onStart: (msg: HttpMessage) => void,
    private readonly bodyModeFor: (msg: HttpMessage) => BodyMode,
    private readonly onComplete: (msg: HttpMessage) => void,
  ) {}

  push(bytes: Buffer, at: EventRef): void {
    if (this.stopped) return;
    this.queue.push(bytes);
    this.chunks.push({ event: at.index, start: this.pushed, end: this.pushed + bytes.length });
    this.pushed += bytes.length;
    if (this.current && this.current.events[this.current.events.length - 1] !== at.index) this.current.events.push(at.index);
    else if (!this.current && this.headEvents[this.headEvents.length - 1] !== at.index) this.headEvents.push(at.index);
    while (!this.stopped && this.queue.length > 0) {
      if (!this.current) {
        if (!this.startMessage(at)) return;
        continue;
      }
      if (!this.readBody(at)) return;
    }
  }

  private startMessage(at: EventRef): boolean {
    let data = this.queue.peek();
    // Stray CRLF between messages is allowed.
    let lead = 0;
    while (lead < data.length && (data[lead] === 0x0d || data[lead] === 0x0a)) lead++;
    if (lead) {
      this.queue.skip(lead);
      data = this.queue.peek();
      if (data.length === 0) return false;
    }
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) {
      if (!this.pendingStart) {
        this.pendingStart = at;
        if (this.headEvents[this.headEvents.length - 1] !== at.index) this.headEvents.push(at.index);
      }
      if (data.length > 256 * 1024) this.stopped = true; // not HTTP after all, or a head too large to matter
      return false;
    }
    const head = data.subarray(0, end).toString('latin1');
    const spans = this.spans(end + 4, 'head', 0);
    this.queue.skip(end + 4);
    const [startLine = '', ...headerLines] = head.split('\r\n');
    const headers: [string, string][] = [];
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
      else if (/^[ \t]/.test(line) && headers.length) headers[headers.length - 1]![1] += ` ${line.trim()}`;
    }
    const first = this.pendingStart ?? at;
    this.pendingStart = null;
    const events = this.headEvents.length > 0 ? this.headEvents : [at.index];
    this.headEvents = [];
    const msg: HttpMessage = { startLine, headers, body: EMPTY, bodyLength: 0, chunked: false, first, last: at, complete: false, events, spans };
    this.current = msg;
    this.bodyChunks = [];
    this.kept = 0;
    this.onStart(msg);
    this.mode = this.bodyModeFor(msg);
    if (this.mode.kind === 'chunked') {
      msg.chunked = true;
      this.chunkLeft = -1;
    }
    if (this.mode.kind === 'none' || (this.mode.kind === 'length' && this.mode.left === 0)) this.finish(at);
    return true;
  }

  private pendingStart: EventRef | null = null;
  /** Events that carried the bytes of a head not yet complete. */
  private headEvents: number[] = [];

  /** Where the next `n` queued bytes were recorded, as `part` of a message from `offset` on. */
  private spans(n: number, part: ByteSpan['part'], offset: number): ByteSpan[] {
    const start = this.pushed - this.queue.length;
    const end = start + n;
    const out: ByteSpan[] = [];
    while (this.chunks.length > 0 && this.chunks[0]!.end <= start) this.chunks.shift();
    for (const c of this.chunks) {
      if (c.start >= end) break;
      const from = Math.max(start, c.start);
      const to = Math.min(end, c.end);
      if (from < to) out.push({ event: c.event, from: from - c.start, to: to - c.start, part, offset: offset + (from - start) });
    }
    return out;
  }

  /** Takes `n` body bytes from the queue into the current message. */
  private takeBody(n: number): void {
    const msg = this.current!;
    for (const s of this.spans(n, 'body', msg.bodyLength)) msg.spans.push(s);
    const bytes = this.queue.take(n);
    msg.bodyLength += bytes.length;
    if (this.kept < KEEP_BYTES) {
      const part = bytes.subarray(0, KEEP_BYTES - this.kept);
      this.bodyChunks.push(Buffer.from(part));
      this.kept += part.length;
    }
  }

  /** Consumes body bytes; false when it needs more. */
  private readBody(at: EventRef): boolean {
    const mode = this.mode;
    if (mode.kind === 'length') {
      const n = Math.min(mode.left, this.queue.length);
      this.takeBody(n);
      mode.left -= n;
      if (mode.left === 0) this.finish(at);
      return this.queue.length > 0;
    }
    if (mode.kind === 'close') {
      this.takeBody(this.queue.length);
      this.current!.last = at;
      return false;
    }
    if (mode.kind === 'chunked') {
      if (this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, this.queue.length);
        this.takeBody(n);
        this.chunkLeft -= n;
        if (this.chunkLeft === 0) this.chunkLeft = -3; // the CRLF after the data
        return this.queue.length > 0;
      }
      const data = this.queue.peek();
      const eol = data.indexOf('\r\n');
      if (eol < 0) return false;
      if (this.chunkLeft === -3) {
        this.queue.skip(eol + 2);
        this.chunkLeft = -1;
        return true;
      }
      if (this.chunkLeft === -2) {
        // Trailer lines until an empty one.
        this.queue.skip(eol + 2);
        if (eol === 0) this.finish(at);
        return true;
      }
      const size = parseInt(data.subarray(0, eol).toString('latin1').split(';')[0]!.trim(), 16);
      this.queue.skip(eol + 2);
      if (Number.isNaN(size)) {
        this.stopped = true;
        this.finish(at);
        return false;
      }
      this.chunkLeft = size === 0 ? -2 : size;
      return true;
    }
    return false;
  }

  private finish(at: EventRef): void {
    const msg = this.current!;
    msg.body = this.bodyChunks.length === 1 ? this.bodyChunks[0]! : Buffer.concat(this.bodyChunks);
    msg.last = at;
    msg.complete = true;
    this.current = null;
    this.bodyChunks = [];
    this.onComplete(msg);
  }

  /** The connection ended: a body read until the close is complete now; anything else is cut short. */
  end(at: EventRef | null): HttpMessage | null {
    const msg = this.current;
    if (!msg) return null;
    msg.body = Buffer.concat(this.bodyChunks);
    if (at) msg.last = at;
    msg.complete = this.mode.kind === 'close';
    this.current = null;
    return msg;
  }
}

const EMPTY = Buffer.alloc(0);

export function header(msg: HttpMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of msg.headers) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export class HttpDecoder implements Decoder {
  /** Requests waiting for their response, oldest first (pipelining). */
  private readonly waiting: { exchange: HttpExchange; pending: Pending }[] = [];
  private readonly requests: MessageParser;
  private readonly responses: MessageParser;
  private upgraded = false;

  constructor(private readonly ctx: DecoderContext) {
    this.requests = new MessageParser(
      (msg) => this.requestStarted(msg),
      (msg) => {
        const length = header(msg, 'content-length');
        if (/\bchunked\b/i.test(header(msg, 'transfer-encoding') ?? '')) return { kind: 'chunked' };
        if (length !== undefined && /^\d+$/.test(length)) return { kind: 'length', left: Number(length) };
        return { kind: 'none' };
      },
      () => {},
    );
    this.responses = new MessageParser(
      () => {},
      (msg) => {
        const status = statusOf(msg);
        const exchange = this.waiting[0]?.exchange;
        if (exchange?.method === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304) return { kind: 'none' };
        if (exchange?.method === 'CONNECT' && status >= 200 && status < 300) return { kind: 'none' };
        if (/\bchunked\b/i.test(header(msg, 'transfer-encoding') ?? '')) return { kind: 'chunked' };
        const length = header(msg, 'content-length');
        if (length !== undefined && /^\d+$/.test(length)) return { kind: 'length', left: Number(length) };
        return { kind: 'close' };
      },
      (msg) => this.responseComplete(msg),
    );
  }

  push(from: Sender, bytes: Buffer, at: EventRef): void {
    if (this.upgraded) return;
    if (from === 'client') this.requests.push(bytes, at);
    else this.responses.push(bytes, at);
  }

  end(at: EventRef | null): void {
    // A request cut short is already waiting (it is listed from its head on); its body stays as read.
    this.requests.end(at);
    const partialResponse = this.responses.end(at);
    if (partialResponse && this.waiting.length > 0) {
      const { exchange, pending } = this.waiting.shift()!;
      exchange.response = partialResponse;
      pending.finish(this.entry(exchange));
    }
    for (const { exchange, pending } of this.waiting.splice(0)) pending.finish(this.entry(exchange));
  }

  private requestStarted(msg: HttpMessage): void {
    const [method = '?', target = '?'] = msg.startLine.split(' ');
    const exchange: HttpExchange = { method, target, url: this.urlOf(target, msg), request: msg, response: null, interim: [] };
    const pending = this.ctx.entries.begin(msg.first.index, () => this.entry(exchange));
    this.waiting.push({ exchange, pending });
  }

  private responseComplete(msg: HttpMessage): void {
    const head = this.waiting[0];
    if (!head) return; // a response with no request: not HTTP as we understand it
    const status = statusOf(msg);
    if (status >= 100 && status < 200 && status !== 101) {
      head.exchange.interim.push(msg);
      return;
    }
    this.waiting.shift();
    head.exchange.response = msg;
    if (status === 101 || (head.exchange.method === 'CONNECT' && status >= 200 && status < 300)) {
      this.upgraded = true;
      this.requests.stopped = true;
      this.responses.stopped = true;
    }
    head.pending.finish(this.entry(head.exchange));
  }

  private urlOf(target: string, msg: HttpMessage): string {
    if (this.ctx.conn.role === 'server' || /^[a-z]+:\/\//i.test(target)) return target;
    const host = header(msg, 'host') ?? this.ctx.conn.target;
    return `${this.ctx.conn.tls ? 'https' : 'http'}://${host}${target}`;
  }

  private entry(exchange: HttpExchange): Entry {
    const { request, response } = exchange;
    const inbound = this.ctx.conn.role === 'server';
    const status = response ? statusOf(response) : null;
    const took = response ? response.last.time - request.first.time : null;
    let outcome: string;
    if (!response) outcome = request.complete ? 'no response' : 'request cut short';
    else if (!response.complete) outcome = `${status} (response cut short${took !== null ? `, ${duration(took)}` : ''})`;
    else outcome = `${status}${status === 101 ? ` ${header(response, 'upgrade') ?? 'upgrade'}` : ''} (${duration(took!)})`;
    const shownUrl = inbound ? exchange.target : exchange.url;
    const events = [...request.events];
    for (const m of [...exchange.interim, ...(response ? [response] : [])]) for (const e of m.events) if (!events.includes(e)) events.push(e);
    events.sort((a, b) => a - b);
    return {
      process: this.ctx.conn.process,
      event: request.first.index,
      time: request.first.time,
      kind: inbound ? 'http.in' : 'http.out',
      summary: `${exchange.method} ${shownUrl} → ${outcome}`,
      fields: {
        method: exchange.method,
        url: shownUrl,
        status,
        durationMs: took === null ? null : round(took),
        requestBytes: request.bodyLength,
        responseBytes: response?.bodyLength ?? null,
        connection: this.ctx.conn.id,
      },
      events,
      detail: () => this.detail(exchange, inbound, took),
      decoded: { protocol: 'http', exchange },
    };
  }

  private detail(exchange: HttpExchange, inbound: boolean, took: number | null): { text: string; json: Record<string, unknown> } {
    const { request, response } = exchange;
    const c = this.ctx.conn;
    const lines: string[] = [];
    lines.push(`${inbound ? 'inbound' : 'outbound'} HTTP ${exchange.method} ${inbound ? exchange.target : exchange.url}`);
    lines.push(`connection ${c.id}: ${inbound ? `from ${c.peer} to ${c.target}` : `to ${c.target} (${c.peer})`}${c.tls ? ', TLS' : ''}`);
    lines.push('', `request (event ${request.first.index}, +${request.first.time.toFixed(3)} ms):`, ...messageText(request));
    for (const m of exchange.interim) lines.push('', `interim response (event ${m.first.index}):`, ...messageText(m));
    if (response) {
      lines.push('', `response (event ${response.first.index}, +${response.first.time.toFixed(3)} ms${took !== null ? `, ${duration(took)} after the request` : ''}):`, ...messageText(response));
    } else {
      lines.push('', 'no response in the recording');
    }
    return {
      text: lines.join('\n'),
      json: {
        protocol: 'http',
        direction: inbound ? 'inbound' : 'outbound',
        method: exchange.method,
        url: inbound ? exchange.target : exchange.url,
        connection: { id: c.id, target: c.target, peer: c.peer, tls: c.tls },
        request: messageJson(request),
        response: response ? messageJson(response) : null,
        durationMs: took === null ? null : round(took),
      },
    };
  }
}

function statusOf(msg: HttpMessage): number {
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(msg.startLine);
  return m ? Number(m[1]) : 0;
}

/** The body as sent, or decompressed when its Content-Encoding is gzip, deflate or br (display only). */
function decodedBody(msg: HttpMessage): { body: Buffer; encoding: string | null } {
  const encoding = (header(msg, 'content-encoding') ?? '').trim().toLowerCase();
  if (!encoding || encoding === 'identity' || msg.bodyLength > msg.body.length) return { body: msg.body, encoding: null };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return { body: zlib.gunzipSync(msg.body), encoding };
    if (encoding === 'deflate') return { body: zlib.inflateSync(msg.body), encoding };
    if (encoding === 'br') return { body: zlib.brotliDecompressSync(msg.body), encoding };
  } catch {
    // not what the header says: shown as sent
  }
  return { body: msg.body, encoding: null };
}

function messageText(msg: HttpMessage): string[] {
  const out = [`  ${msg.startLine}`];
  for (const [k, v] of msg.headers) out.push(`  ${k}: ${v}`);
  if (msg.bodyLength > 0) {
    const { body, encoding } = decodedBody(msg);
    out.push('', `  body (${bytesCount(msg.bodyLength)}${msg.chunked ? ', chunked' : ''}${encoding ? `, ${encoding}: ${bytesCount(body.length)} decompressed` : ''}):`);
    out.push(prettyBody(body, header(msg, 'content-type') ?? '', '    ', msg.bodyLength > msg.body.length ? msg.bodyLength : undefined));
  }
  if (!msg.complete) out.push('  (cut short: the connection ended or the recording stops here)');
  return out;
}

function messageJson(msg: HttpMessage): Record<string, unknown> {
  const decoded = decodedBody(msg).body;
  const text = decoded.toString('utf8');
  let body: unknown = null;
  if (decoded.length > 0) {
    try {
      body = /json/i.test(header(msg, 'content-type') ?? '') ? JSON.parse(text) : text;
    } catch {
      body = text;
    }
    if (typeof body === 'string' && text.includes('\ufffd')) body = { base64: decoded.toString('base64') };
  }
  return {
    startLine: msg.startLine,
    headers: msg.headers,
    body,
    bodyBytes: msg.bodyLength,
    complete: msg.complete,
    event: msg.first.index,
    events: msg.events,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

