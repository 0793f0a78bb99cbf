// Redaction of socket bytes, as they are recorded: HTTP/1 headers and JSON bodies, PostgreSQL
// password and SASL messages (and result columns a project names), MySQL authentication, Redis
// AUTH and HELLO. Each socket gets one SocketRedactor; each direction runs a parser written as a
// generator that asks the driver for bytes (`need`), passes bytes on (`skip`) or marks them secret
// (`secret`). The parsers follow the protocol across chunk boundaries, so framing (Content-Length,
// chunked encoding, message lengths) is tracked however the bytes arrive.
//
// Secret bytes are replaced in place by bytes of the same length (offsets and length fields stay
// right). A secret wholly inside one chunk becomes its placeholder (secrets.ts: the same secret,
// the same placeholder); one that straddles chunks cannot wait for its end (the first part is
// written as it arrives), so its bytes become '*' in every chunk. Both are deterministic: replay
// runs the same parsers over the bytes the program writes and gets the same spans.
import type { RedactionRules } from './rules.js';
import type { SecretTable } from './secrets.js';
import { noteClientScram, scramServerFinal, type ScramExchange } from './scram.js';

/** A span of a chunk that was redacted. */
export interface Slot {
  start: number;
  end: number;
}

type Op =
  | { op: 'need'; n: number }
  | { op: 'skip'; n: number }
  /**
   * Secret bytes. `capture`: also hand them to the parser (replay only: what the program wrote).
   * `replace`: replay only, bytes to deliver instead of the recorded placeholder (same length).
   */
  | { op: 'secret'; n: number; capture?: boolean; replace?: (() => Buffer | null) | undefined }
  /** The current line: `whole` when its end ('\n') is in this chunk. Consumes nothing. */
  | { op: 'line' }
  /** The rest of a line that straddles chunks, through '\n': returned (capped); `fill` stars it. */
  | { op: 'restOfLine'; fill: boolean }
  /** A body: `n` bytes (Infinity: until the connection ends), through a JSON scanner if any. */
  | { op: 'body'; n: number; json: JsonScanner | null }
  /** An HTTP head: its text (latin1, through the empty line) when all of it is in this chunk, else null. Consumes nothing. */
  | { op: 'head' }
  /** Nothing more to understand on this direction (TLS after an upgrade, an unknown protocol). */
  | { op: 'rest' };

interface Line {
  bytes: Buffer;
  whole: boolean;
}

type Parser = Generator<Op, void, any>;

interface MarkedSlot {
  start: number;
  end: number;
  fill: boolean;
  replace?: (() => Buffer | null) | undefined;
}

const MAX_LINE = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

/** One direction's parser and where it is in its current operation. */
class Direction {
  private parser: Parser | null = null;
  private op: Op | null = null;
  private left = 0;
  private gathered: Buffer[] = [];
  private gatheredLength = 0;
  private straddling = false;
  private lineText = '';

  start(parser: Parser): void {
    this.parser = parser;
    this.advance(undefined);
  }

  get started(): boolean {
    return this.parser !== null;
  }

  private advance(value: unknown): void {
    const next = this.parser!.next(value);
    this.op = next.done ? { op: 'rest' } : next.value;
    this.straddling = false;
    if (this.gatheredLength > 0 || this.gathered.length > 0) this.gathered = [];
    this.gatheredLength = 0;
    this.lineText = '';
    if (this.op.op === 'need' || this.op.op === 'skip' || this.op.op === 'secret' || this.op.op === 'body') this.left = this.op.n;
  }

  /** Runs the parser over one chunk; returns the spans to replace. */
  feed(chunk: Buffer, slots: MarkedSlot[]): void {
    let pos = 0;
    // Zero-length operations complete without bytes.
    for (let guard = 0; this.op && guard < 1_000_000; guard++) {
      const op = this.op;
      if (op.op === 'rest') return;
      if ((op.op === 'need' || op.op === 'skip' || op.op === 'secret' || op.op === 'body') && this.left === 0) {
        this.advance(op.op === 'need' || (op.op === 'secret' && op.capture) ? Buffer.concat(this.gathered, this.gatheredLength) : undefined);
        continue;
      }
      if (pos >= chunk.length) return;
      switch (op.op) {
        case 'need': {
          const k = Math.min(this.left, chunk.length - pos);
          this.gathered.push(chunk.subarray(pos, pos + k));
          this.gatheredLength += k;
          this.left -= k;
          pos += k;
          break;
        }
        case 'skip': {
          const k = Math.min(this.left, chunk.length - pos);
          this.left -= k;
          pos += k;
          break;
        }
        case 'secret': {
          const k = Math.min(this.left, chunk.length - pos);
          const whole = !this.straddling && k === this.left;
          if (k > 0) slots.push({ start: pos, end: pos + k, fill: !whole, replace: whole ? op.replace : undefined });
          if (op.capture) {
            this.gathered.push(chunk.subarray(pos, pos + k));
            this.gatheredLength += k;
          }
          this.straddling = true;
          this.left -= k;
          pos += k;
          break;
        }
        case 'body': {
          const k = Math.min(this.left, chunk.length - pos);
          op.json?.feed(chunk, pos, pos + k, slots);
          this.left -= k;
          pos += k;
          break;
        }
        case 'head': {
          const end = chunk.indexOf(HEAD_END, pos);
          this.advance(end < 0 ? null : chunk.toString('latin1', pos, end + 4));
          break;
        }
        case 'line': {
          const nl = chunk.indexOf(10, pos);
          const line: Line = nl < 0 ? { bytes: chunk.subarray(pos), whole: false } : { bytes: chunk.subarray(pos, nl + 1), whole: true };
          this.advance(line);
          break;
        }
        case 'restOfLine': {
          const nl = chunk.indexOf(10, pos);
          const end = nl < 0 ? chunk.length : nl + 1;
          if (this.lineText.length < MAX_LINE) this.lineText += chunk.toString('latin1', pos, Math.min(end, pos + MAX_LINE));
          if (op.fill) {
            let stop = nl < 0 ? end : nl;
            if (nl >= 0 && stop > pos && chunk[stop - 1] === 13) stop--;
            if (stop > pos) slots.push({ start: pos, end: stop, fill: true });
          }
          pos = end;
          if (nl >= 0) this.advance(this.lineText);
          break;
        }
      }
    }
  }
}

/** The redaction of one socket's bytes, both ways. */
export class SocketRedactor {
  private readonly received = new Direction();
  private readonly sent = new Direction();
  private readonly state: PairState;

  constructor(private readonly table: SecretTable, private readonly rules: RedactionRules, replaying = false) {
    this.state = { protocol: null, pgAwaitingSsl: false, pgAuth: 0, pgColumns: null, mysqlAuth: true, httpMethods: [], replaying, scram: {} };
  }

  /**
   * Replay: the recorded bytes the program is about to receive, followed by the parsers as when
   * recording; where the recording holds a placeholder that replay can stand in for (the
   * PostgreSQL server's SCRAM signature, computed for the password the program used), the bytes
   * to deliver instead.
   */
  replayReceived(bytes: Buffer): Buffer {
    if (bytes.length === 0) return bytes;
    const dir = this.received;
    if (!dir.started) this.detect(dir, this.sent, bytes);
    const slots: MarkedSlot[] = [];
    try {
      dir.feed(bytes, slots);
    } catch {
      dir.start(opaque());
    }
    let out = bytes;
    for (const s of slots) {
      const replacement = s.replace?.();
      if (!replacement || replacement.length !== s.end - s.start) continue;
      if (out === bytes) out = Buffer.from(bytes);
      replacement.copy(out, s.start);
    }
    return out;
  }

  /** Bytes the program received; a redacted copy, or the same buffer when nothing is secret. */
  redactReceived(bytes: Buffer, slots?: Slot[]): Buffer {
    return this.run(this.received, this.sent, bytes, slots);
  }

  /** Bytes the program sent. */
  redactSent(bytes: Buffer, slots?: Slot[]): Buffer {
    return this.run(this.sent, this.received, bytes, slots);
  }

  private run(dir: Direction, other: Direction, bytes: Buffer, out?: Slot[]): Buffer {
    if (bytes.length === 0) return bytes;
    const slots: MarkedSlot[] = [];
    try {
      if (!dir.started) this.detect(dir, other, bytes);
      dir.feed(bytes, slots);
    } catch {
      // A parser that meets bytes it cannot follow stops understanding this direction: what it
      // already replaced stays replaced, and the rest of the stream passes as it is.
      dir.start(opaque());
    }
    if (slots.length === 0) return bytes;
    const copy = Buffer.from(bytes);
    for (const s of slots) {
      if (s.fill) copy.fill(0x2a, s.start, s.end);
      else copy.write(this.table.placeholderFor(bytes.subarray(s.start, s.end)), s.start, 'latin1');
      out?.push({ start: s.start, end: s.end });
    }
    return copy;
  }

  /** The first bytes either way tell the protocol; both directions get their parser. */
  private detect(dir: Direction, other: Direction, bytes: Buffer): void {
    const st = this.state;
    const rules = this.rules;
    const head = bytes.toString('latin1', 0, Math.min(bytes.length, 64));
    if (/^\*\d+\r\n\$\d+\r\n/.test(head) || /^(AUTH|HELLO) [^\r\n]*\r\n/i.test(head)) {
      st.protocol = 'redis';
      dir.start(redisClient());
      if (!other.started) other.start(opaque());
    } else if (/^[A-Z]{3,16} [^ \r\n]+( HTTP\/1\.[01]\r?\n?|$| )/.test(head) || /^[A-Z]{3,16} [^ \r\n]*$/.test(head)) {
      dir.start(http('request', st, rules));
      if (!other.started) other.start(http('response', st, rules));
    } else if (/^HTTP\/1\.[01] \d/.test(head)) {
      dir.start(http('response', st, rules));
      if (!other.started) other.start(http('request', st, rules));
    } else if (bytes.length >= 8 && PG_STARTUP_CODES.has(bytes.readUInt32BE(4)) && bytes.readUInt32BE(0) >= 8 && bytes.readUInt32BE(0) < 1 << 16) {
      st.protocol = 'pg';
      dir.start(pgFrontend(st));
      if (!other.started) other.start(pgBackend(st, rules));
    } else if (bytes.length >= 5 && bytes[3] === 0 && bytes[4] === 0x0a && bytes.readUIntLE(0, 3) >= 8) {
      st.protocol = 'mysql';
      dir.start(mysqlServer(st));
      if (!other.started) other.start(mysqlClient(st));
    } else {
      dir.start(opaque());
      if (!other.started) other.start(opaque());
    }
  }
}

interface PairState {
  protocol: 'http' | 'pg' | 'mysql' | 'redis' | null;
  pgAwaitingSsl: boolean;
  /** The authentication the PostgreSQL server asked for (3 cleartext, 5 MD5, 10 SASL). */
  pgAuth: number;
  pgColumns: boolean[] | null;
  mysqlAuth: boolean;
  /** Methods of HTTP requests whose responses are still to come (HEAD and CONNECT responses differ). */
  httpMethods: string[];
  replaying: boolean;
  /** Replay: the SCRAM exchange as the program made it (scram.ts). */
  scram: ScramExchange;
}

function* opaque(): Parser {
  yield { op: 'rest' };
}

// ---- HTTP/1 ----

function* http(role: 'request' | 'response', st: PairState, rules: RedactionRules): Parser {
  st.protocol = 'http';
  for (;;) {
    const headers = new Map<string, string>();
    let start: string;
    // The common case, a whole head in one chunk, in one pass; else line by line.
    const head: string | null = yield { op: 'head' };
    if (head !== null) {
      if (head.startsWith('\r\n')) {
        yield { op: 'skip', n: 2 }; // a stray CRLF between messages
        continue;
      }
      start = head.slice(0, head.indexOf('\r\n'));
      let at = 0;
      for (const [s, e] of headSecrets(head, rules, headers)) {
        yield { op: 'skip', n: s - at };
        yield { op: 'secret', n: e - s };
        at = e;
      }
      yield { op: 'skip', n: head.length - at };
    } else {
      start = yield* wholeLine();
      if (start.trim() === '') continue; // a stray CRLF between messages
      yield* headerLines(rules, headers);
    }
    let method = '';
    let status = 0;
    if (role === 'request') {
      method = start.slice(0, start.indexOf(' '));
      st.httpMethods.push(method);
    } else status = Number(start.slice(9, 12));
    // The body.
    const contentLength = headers.get('content-length');
    const chunked = /\bchunked\b/i.test(headers.get('transfer-encoding') ?? '');
    const json = /json/i.test(headers.get('content-type') ?? '') && !headers.has('content-encoding');
    if (role === 'response') {
      if (status >= 100 && status < 200 && status !== 101) continue; // an interim response: the final one follows
      const requestMethod = st.httpMethods.shift() ?? '';
      if (status === 101 || (requestMethod === 'CONNECT' && status >= 200 && status < 300)) return yield* opaque();
      if (requestMethod === 'HEAD' || status === 204 || status === 304) continue;
    } else if (method === 'CONNECT' || /\bupgrade\b/i.test(headers.get('connection') ?? '')) {
      // After the request, the connection may carry another protocol: the response decides, but
      // this direction cannot wait for it; what follows an upgrade request is not parsed.
      if (!chunked && contentLength === undefined) return yield* opaque();
    }
    const scanner = json ? new JsonScanner(rules) : null;
    if (chunked) {
      for (;;) {
        const sizeLine = yield* wholeLine();
        const size = parseInt(sizeLine.trim().split(';')[0]!, 16);
        if (!Number.isFinite(size) || size < 0) return yield* opaque();
        if (size === 0) {
          yield* headerLines(rules, new Map()); // trailers, through the empty line
          break;
        }
        yield { op: 'body', n: size, json: scanner };
        yield* wholeLine(); // the CRLF after the data
      }
    } else if (contentLength !== undefined) {
      const n = Number(contentLength.split(',')[0]!.trim());
      if (!Number.isSafeInteger(n) || n < 0) return yield* opaque();
      if (n > 0) yield { op: 'body', n, json: scanner };
    } else if (role === 'response') {
      yield { op: 'body', n: Infinity, json: scanner };
    }
  }
}

/**
 * A whole head (start line, header lines, empty line) at once: the framing headers go into
 * `headers`; returns the secret spans, as offsets in the head.
 */
function headSecrets(head: string, rules: RedactionRules, headers: Map<string, string>): [number, number][] {
  FRAMING_LINE.lastIndex = 0;
  for (let m; (m = FRAMING_LINE.exec(head)); ) headers.set(m[1]!.toLowerCase(), m[2]!.trim());
  const spans: [number, number][] = [];
  // Only lines whose name could be secret are looked at closely (all of them with project rules).
  if (!rules.hasHeaderRules && !SECRET_LOOKING_WORD.test(head)) return spans;
  const candidates = rules.hasHeaderRules ? ANY_HEADER_LINE : SECRET_LOOKING_LINE;
  candidates.lastIndex = 0;
  for (let m; (m = candidates.exec(head)); ) {
    const name = m[1]!.trim().toLowerCase();
    if (!rules.secretHeader(name)) continue;
    const valueAt = m.index + 2 + m[1]!.length + 1;
    for (const [s, e] of secretParts(name, m[2]!)) spans.push([valueAt + s, valueAt + e]);
  }
  return spans;
}

const FRAMING_LINE = /\r\n(content-length|transfer-encoding|content-type|content-encoding|connection)[ \t]*:([^\r\n]*)/gi;
const SECRET_LOOKING_LINE = /\r\n([^:\r\n]*(?:auth|token|secret|passw|api-?key|credential|cookie)[^:\r\n]*):([^\r\n]*)/gi;
const SECRET_LOOKING_WORD = /auth|token|secret|passw|api-?key|credential|cookie/i;
const ANY_HEADER_LINE = /\r\n([^:\r\n]+):([^\r\n]*)/g;

/** A line that is not secret, through '\n' (returned without its line end). */
function* wholeLine(): Generator<Op, string, any> {
  const line: Line = yield { op: 'line' };
  if (line.whole) {
    yield { op: 'skip', n: line.bytes.length };
    return line.bytes.toString('latin1').replace(/\r?\n$/, '');
  }
  const partial = line.bytes.toString('latin1');
  yield { op: 'skip', n: line.bytes.length };
  const rest: string = yield { op: 'restOfLine', fill: false };
  return (partial + rest).replace(/\r?\n$/, '');
}

/** Header lines through the empty line; secret values are replaced, every value is kept in `headers`. */
function* headerLines(rules: RedactionRules, headers: Map<string, string>): Generator<Op, void, any> {
  let prefix = '';
  for (;;) {
    const line: Line = yield { op: 'line' };
    const text = line.bytes.toString('latin1');
    if (line.whole) {
      const full = prefix + text;
      const content = full.replace(/\r?\n$/, '');
      if (content === '') {
        yield { op: 'skip', n: line.bytes.length };
        return;
      }
      const colon = content.indexOf(':');
      const name = colon > 0 ? content.slice(0, colon).trim() : '';
      const value = colon > 0 ? content.slice(colon + 1).trim() : '';
      if (name) headers.set(name.toLowerCase(), value);
      // The name may have begun in the previous chunk; the value is all in this one.
      const valueStart = colon + 1 - prefix.length;
      if (name && rules.secretHeader(name) && valueStart >= 0) {
        let at = 0;
        const valueText = text.slice(valueStart).replace(/\r?\n$/, '');
        for (const [s, e] of secretParts(name.toLowerCase(), valueText)) {
          yield { op: 'skip', n: valueStart + s - at };
          yield { op: 'secret', n: e - s };
          at = valueStart + e;
        }
        yield { op: 'skip', n: line.bytes.length - at };
      } else yield { op: 'skip', n: line.bytes.length };
      prefix = '';
      continue;
    }
    // The line goes on in the next chunk.
    const full = prefix + text;
    const colon = full.indexOf(':');
    if (colon < 0) {
      // Only (part of) the name is here: nothing secret yet.
      prefix = full.length < MAX_LINE ? full : '';
      yield { op: 'skip', n: line.bytes.length };
      continue;
    }
    const name = full.slice(0, colon).trim();
    const secret = rules.secretHeader(name);
    const valueStart = colon + 1 - prefix.length;
    if (secret && valueStart >= 0) {
      yield { op: 'skip', n: valueStart };
      if (line.bytes.length > valueStart) yield { op: 'secret', n: line.bytes.length - valueStart };
    } else yield { op: 'skip', n: line.bytes.length };
    const rest: string = yield { op: 'restOfLine', fill: secret };
    headers.set(name.toLowerCase(), (full.slice(colon + 1) + rest).trim());
    prefix = '';
  }
}

/**
 * The secret parts of a header value, as [start, end) within it: the credentials after an
 * Authorization scheme, each cookie's value, a Set-Cookie's value; otherwise all of it.
 */
function secretParts(name: string, value: string): [number, number][] {
  const lead = value.length - value.trimStart().length;
  const end = value.trimEnd().length;
  if (end <= lead) return [];
  if (name === 'authorization' || name === 'proxy-authorization') {
    const m = /^([A-Za-z][A-Za-z0-9._-]*) +(?=\S)/.exec(value.slice(lead));
    if (m) return [[lead + m[0].length, end]];
    return [[lead, end]];
  }
  if (name === 'cookie' || name === 'set-cookie') {
    const parts: [number, number][] = [];
    const pairs = name === 'set-cookie' ? [value.slice(0, end).split(';')[0]!] : value.slice(0, end).split(';');
    let offset = 0;
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq >= 0) {
        let s = offset + eq + 1;
        let e = offset + pair.length;
        while (s < e && value[s] === ' ') s++;
        while (e > s && value[e - 1] === ' ') e--;
        if (value[s] === '"' && value[e - 1] === '"' && e - s >= 2) {
          s++;
          e--;
        }
        if (e > s) parts.push([s, e]);
      }
      offset += pair.length + 1;
    }
    return parts;
  }
  return [[lead, end]];
}

// ---- JSON bodies ----

const enum J {
  Value, // expecting a value
  AfterValue, // expecting ',' or a closing bracket
  Key, // expecting a member name or '}'
  Colon,
  String,
  Literal,
  Failed,
}

/**
 * Follows a JSON text byte by byte, knowing the path of each value, and marks the contents of
 * string values the rules call secret. Numbers and other literals are left as they are.
 */
export class JsonScanner {
  private state = J.Value;
  private readonly stack: { array: boolean; key: string | number }[] = [];
  private inKey = false;
  private escaped = false;
  private secret = false;
  private stringStart = -1;
  private straddling = false;
  private key = '';

  constructor(private readonly rules: RedactionRules) {}

  private path(): (string | number)[] {
    return this.stack.map((f) => f.key);
  }

  feed(chunk: Buffer, from: number, to: number, slots: MarkedSlot[]): void {
    let i = from;
    if (this.state === J.String && this.secret) this.stringStart = from;
    for (; i < to && this.state !== J.Failed; i++) {
      const c = chunk[i]!;
      switch (this.state) {
        case J.String:
          if (this.escaped) this.escaped = false;
          else if (c === 0x5c) this.escaped = true;
          else if (c === 0x22) {
            if (this.inKey) {
              this.state = J.Colon;
            } else {
              if (this.secret && i > this.stringStart) slots.push({ start: this.stringStart, end: i, fill: this.straddling });
              this.state = J.AfterValue;
            }
            this.secret = false;
            this.straddling = false;
            continue;
          }
          if (this.inKey && this.key.length < 256) this.key += String.fromCharCode(c);
          continue;
        case J.Literal:
          if (c === 0x2c || c === 0x7d || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            this.state = J.AfterValue;
            i--;
          }
          continue;
      }
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      switch (this.state) {
        case J.Value:
          if (c === 0x7b) {
            this.stack.push({ array: false, key: '' });
            this.state = J.Key;
          } else if (c === 0x5b) {
            this.stack.push({ array: true, key: 0 });
            this.state = J.Value;
          } else if (c === 0x5d && this.stack[this.stack.length - 1]?.array) {
            this.close(); // an empty array
          } else if (c === 0x22) {
            this.state = J.String;
            this.inKey = false;
            this.secret = this.stack.length > 0 && this.rules.secretJson(this.path());
            this.stringStart = i + 1;
          } else this.state = J.Literal;
          break;
        case J.AfterValue: {
          const top = this.stack[this.stack.length - 1];
          if (!top) this.state = J.Failed; // text after the top value: not one JSON document
          else if (c === 0x2c) {
            if (top.array) {
              top.key = (top.key as number) + 1;
              this.state = J.Value;
            } else this.state = J.Key;
          } else if ((c === 0x7d && !top.array) || (c === 0x5d && top.array)) this.close();
          else this.state = J.Failed;
          break;
        }
        case J.Key:
          if (c === 0x22) {
            this.state = J.String;
            this.inKey = true;
            this.key = '';
          } else if (c === 0x7d) this.close();
          else this.state = J.Failed;
          break;
        case J.Colon:
          if (c === 0x3a) {
            this.stack[this.stack.length - 1]!.key = this.key;
            this.state = J.Value;
          } else this.state = J.Failed;
          break;
      }
    }
    if (this.state === J.String && this.secret && to > this.stringStart) {
      // The string goes on in the next chunk: these bytes cannot wait for its end.
      slots.push({ start: this.stringStart, end: to, fill: true });
      this.straddling = true;
    }
  }

  private close(): void {
    this.stack.pop();
    this.state = J.AfterValue;
  }
}

// ---- PostgreSQL ----

const PG_PROTOCOL_3 = 196608;
const PG_SSL_REQUEST = 80877103;
const PG_GSSENC_REQUEST = 80877104;
const PG_CANCEL_REQUEST = 80877102;
const PG_STARTUP_CODES = new Set([PG_PROTOCOL_3, PG_SSL_REQUEST, PG_GSSENC_REQUEST, PG_CANCEL_REQUEST]);

/** What the client sends: the startup, then typed messages; 'p' carries passwords and SASL data. */
function* pgFrontend(st: PairState): Parser {
  for (;;) {
    const head: Buffer = yield { op: 'need', n: 8 };
    if (head[0] === 0x16) return yield* opaque(); // a TLS handshake after SSLRequest
    const length = head.readUInt32BE(0);
    const code = head.readUInt32BE(4);
    if (length < 8) return yield* opaque();
    if (code === PG_SSL_REQUEST || code === PG_GSSENC_REQUEST) st.pgAwaitingSsl = true;
    yield { op: 'skip', n: length - 8 };
    if (code === PG_PROTOCOL_3) break;
    if (code === PG_CANCEL_REQUEST) return yield* opaque();
  }
  for (;;) {
    const head: Buffer = yield { op: 'need', n: 5 };
    const length = head.readUInt32BE(1);
    if (length < 4) return yield* opaque();
    if (head[0] === 0x70 /* p */) {
      // A password (cleartext or MD5) ends with a NUL; SASL messages are all secret.
      const cstring = st.pgAuth === 3 || st.pgAuth === 5;
      if (cstring && length > 5) {
        yield { op: 'secret', n: length - 5 };
        yield { op: 'skip', n: 1 };
      } else if (st.replaying && (st.pgAuth === 10 || st.pgAuth === 11) && length < 1 << 16) {
        // Replay: what the program wrote for SCRAM, to stand in for the server's signature.
        const payload: Buffer = yield { op: 'secret', n: length - 4, capture: true };
        noteClientScram(st.scram, payload, st.pgAuth === 10);
      } else yield { op: 'secret', n: length - 4 };
    } else yield { op: 'skip', n: length - 4 };
  }
}

/** What the server sends: the authentication requests, the SASL outcome, rows of secret columns. */
function* pgBackend(st: PairState, rules: RedactionRules): Parser {
  for (;;) {
    if (st.pgAwaitingSsl) {
      const answer: Buffer = yield { op: 'need', n: 1 };
      st.pgAwaitingSsl = false;
      if (answer[0] === 0x53 /* S */ || answer[0] === 0x47 /* G */) return yield* opaque();
      continue;
    }
    const head: Buffer = yield { op: 'need', n: 5 };
    const type = head[0]!;
    const length = head.readUInt32BE(1);
    if (length < 4) return yield* opaque();
    if (type === 0x52 /* R */ && length >= 8) {
      const code: Buffer = yield { op: 'need', n: 4 };
      st.pgAuth = code.readUInt32BE(0);
      // AuthenticationSASLFinal: the server's signature, from which a password can be guessed offline.
      if (st.pgAuth === 12) yield { op: 'secret', n: length - 8, replace: st.replaying ? () => scramServerFinal(st.scram) : undefined };
      else if (st.pgAuth === 11 && st.replaying && length < 1 << 16) {
        const serverFirst: Buffer = yield { op: 'need', n: length - 8 };
        st.scram.serverFirst = serverFirst.toString('utf8');
      } else yield { op: 'skip', n: length - 8 };
      if (st.pgAuth === 0) st.pgAuth = -1;
    } else if (type === 0x54 /* T */ && rules.hasSqlColumns && length < 1 << 20) {
      const body: Buffer = yield { op: 'need', n: length - 4 };
      st.pgColumns = rowDescriptionSecrets(body, rules);
    } else if (type === 0x44 /* D */ && st.pgColumns?.includes(true)) {
      const count: Buffer = yield { op: 'need', n: 2 };
      let left = length - 6;
      for (let i = 0; i < count.readUInt16BE(0) && left >= 4; i++) {
        const size: Buffer = yield { op: 'need', n: 4 };
        const n = size.readInt32BE(0);
        left -= 4;
        if (n > 0) {
          yield { op: st.pgColumns[i] ? 'secret' : 'skip', n };
          left -= n;
        }
      }
      if (left > 0) yield { op: 'skip', n: left };
    } else yield { op: 'skip', n: length - 4 };
  }
}

/** Which columns of a RowDescription the rules call secret (table names are not in the message). */
function rowDescriptionSecrets(body: Buffer, rules: RedactionRules): boolean[] {
  const out: boolean[] = [];
  const count = body.readUInt16BE(0);
  let at = 2;
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, at);
    if (end < 0) break;
    out.push(rules.secretColumn(body.toString('utf8', at, end)));
    at = end + 1 + 18;
  }
  return out;
}

// ---- MySQL ----

const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH_LENENC = 0x200000;
const CLIENT_SSL = 0x800;

/** What the server sends: its greeting, then packets; OK or ERR ends the authentication. */
function* mysqlServer(st: PairState): Parser {
  for (;;) {
    const head: Buffer = yield { op: 'need', n: 4 };
    const length = head.readUIntLE(0, 3);
    if (length === 0) continue;
    const first: Buffer = yield { op: 'need', n: 1 };
    if (st.mysqlAuth && head[3]! > 0 && (first[0] === 0x00 || first[0] === 0xff)) st.mysqlAuth = false;
    yield { op: 'skip', n: length - 1 };
  }
}

/** What the client sends: the handshake response's auth data, and every packet until authenticated. */
function* mysqlClient(st: PairState): Parser {
  const head: Buffer = yield { op: 'need', n: 4 };
  const length = head.readUIntLE(0, 3);
  if (length < 32) return yield* opaque();
  const fixed: Buffer = yield { op: 'need', n: 32 };
  const caps = fixed.readUInt32LE(0);
  if (length === 32 && caps & CLIENT_SSL) return yield* opaque(); // SSLRequest: TLS follows
  let left = length - 32;
  // The user name, NUL-terminated.
  for (;;) {
    if (left <= 0) return yield* opaque();
    const b: Buffer = yield { op: 'need', n: 1 };
    left--;
    if (b[0] === 0) break;
  }
  let authLength = 0;
  if (caps & CLIENT_PLUGIN_AUTH_LENENC) {
    const first: Buffer = yield { op: 'need', n: 1 };
    left--;
    if (first[0]! < 0xfb) authLength = first[0]!;
    else {
      const width = first[0] === 0xfc ? 2 : first[0] === 0xfd ? 3 : 8;
      const more: Buffer = yield { op: 'need', n: width };
      left -= width;
      authLength = Number(more.readUIntLE(0, Math.min(width, 6)));
    }
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    const first: Buffer = yield { op: 'need', n: 1 };
    left--;
    authLength = first[0]!;
  } else authLength = Math.max(0, left - 1); // pre-4.1: a NUL-terminated scramble to the end
  authLength = Math.min(authLength, left);
  if (authLength > 0) yield { op: 'secret', n: authLength };
  left -= authLength;
  if (left > 0) yield { op: 'skip', n: left };
  // Auth-switch responses, cleartext or RSA-encrypted passwords: secret until the server says OK or ERR.
  for (;;) {
    const h: Buffer = yield { op: 'need', n: 4 };
    const n = h.readUIntLE(0, 3);
    if (n > 0) yield { op: st.mysqlAuth ? 'secret' : 'skip', n };
  }
}

// ---- Redis ----

/** Commands as RESP arrays: the password of AUTH and of HELLO ... AUTH user password. */
function* redisClient(): Parser {
  for (;;) {
    const line: Line = yield { op: 'line' };
    const text = line.bytes.toString('latin1');
    const inline = /^(AUTH|HELLO)( .*)? (\S+)\r?\n$/i.exec(text);
    if (line.whole && inline && (inline[1]!.toUpperCase() === 'AUTH' || /\bAUTH \S+ /i.test(text))) {
      // An inline command: its last word is the password.
      const end = text.replace(/\r?\n$/, '').length;
      const start = end - inline[3]!.length;
      yield { op: 'skip', n: start };
      yield { op: 'secret', n: end - start };
      yield { op: 'skip', n: line.bytes.length - end };
      continue;
    }
    if (!line.whole) {
      yield { op: 'skip', n: line.bytes.length };
      yield { op: 'restOfLine', fill: false };
      continue;
    }
    yield { op: 'skip', n: line.bytes.length };
    const header = text.replace(/\r?\n$/, '');
    if (!header.startsWith('*')) continue; // another inline command
    const count = Number(header.slice(1));
    const elements: string[] = [];
    for (let i = 0; i < count; i++) {
      const sizeLine = yield* wholeLine();
      const size = Number(sizeLine.slice(1));
      if (!sizeLine.startsWith('$') || !Number.isSafeInteger(size) || size < 0) return yield* opaque();
      const command = (elements[0] ?? '').toUpperCase();
      const secret = (command === 'AUTH' && i === count - 1 && i >= 1) || (command === 'HELLO' && i >= 3 && (elements[i - 2] ?? '').toUpperCase() === 'AUTH');
      if (secret) {
        yield { op: 'secret', n: size };
        elements.push('');
      } else if (size <= 64) {
        const value: Buffer = yield { op: 'need', n: size };
        elements.push(value.toString('latin1'));
      } else {
        yield { op: 'skip', n: size };
        elements.push('');
      }
      yield { op: 'need', n: 2 };
    }
  }
}
