// The MySQL/MariaDB client/server protocol from the raw bytes of one connection: the server's
// greeting and the login, COM_QUERY with text result sets, COM_STMT_PREPARE/EXECUTE with binary
// result sets, OK/ERR/EOF packets (with or without CLIENT_DEPRECATE_EOF), multiple result sets,
// and the simple commands (ping, init db, reset). Each command and its response is one entry.
import type { Entry, EventRef, Pending } from '../entry.js';
import { brief, duration, indentLines, plural, table } from '../render.js';
import { ByteQueue, type Decoder, type DecoderContext, type Sender } from './types.js';

const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x200000;
const CLIENT_DEPRECATE_EOF = 0x1000000;
const SERVER_MORE_RESULTS_EXISTS = 0x8;
const KEEP_ROWS = 1000;

const COMMANDS: Record<number, string> = {
  0x01: 'QUIT', 0x02: 'INIT_DB', 0x03: 'QUERY', 0x04: 'FIELD_LIST', 0x08: 'STATISTICS', 0x0e: 'PING', 0x11: 'CHANGE_USER',
  0x16: 'STMT_PREPARE', 0x17: 'STMT_EXECUTE', 0x18: 'STMT_SEND_LONG_DATA', 0x19: 'STMT_CLOSE', 0x1a: 'STMT_RESET',
  0x1b: 'SET_OPTION', 0x1c: 'STMT_FETCH', 0x1f: 'RESET_CONNECTION',
};
/** Commands the server does not answer. */
const NO_REPLY = new Set([0x01, 0x18, 0x19]);

/** Whether a server's first bytes are a MySQL HandshakeV10 greeting (packet 0, protocol 10). */
export function looksLikeMysqlGreeting(bytes: Buffer): boolean {
  if (bytes.length < 5) return false;
  const length = bytes.readUIntLE(0, 3);
  return bytes[3] === 0 && bytes[4] === 0x0a && length > 20 && length < 1024;
}

interface Column {
  name: string;
  type: number;
  unsigned: boolean;
}

interface Result {
  columns: Column[];
  rows: unknown[][];
  rowCount: number;
  affectedRows: number | null;
  insertId: number | null;
  info: string;
}

/** A command the client sent and the server's whole reply to it. */
export interface MysqlCommand {
  code: number;
  name: string;
  text: string | null;
  params: unknown[];
  statementId: number | null;
  results: Result[];
  error: { code: number; state: string; message: string } | null;
  prepared: { id: number; params: number; columns: number } | null;
  first: EventRef;
  last: EventRef;
  events: number[];
  complete: boolean;
  login?: { user: string; database: string | null; server: string };
  pending: Pending | null;
}

interface Statement {
  text: string;
  params: number;
  columns: number;
  /** Parameter types sent with the last execute (an execute may reuse them without sending). */
  types: { type: number; unsigned: boolean }[] | null;
}

type ReplyState =
  | { at: 'first' }
  | { at: 'columns'; left: number; result: Result; eofAfter: boolean }
  | { at: 'columnsEof'; result: Result }
  | { at: 'rows'; result: Result; binary: boolean }
  | { at: 'prepareDefs'; params: number; columns: number; eofAfterParams: boolean };

export class MysqlDecoder implements Decoder {
  private readonly client = new ByteQueue();
  private readonly server = new ByteQueue();
  private phase: 'greeting' | 'login' | 'auth' | 'command' = 'greeting';
  private serverCaps = 0;
  private clientCaps = 0;
  private serverVersion = '';
  private readonly waiting: MysqlCommand[] = [];
  private reply: ReplyState = { at: 'first' };
  private readonly statements = new Map<number, Statement>();
  private stopped = false;

  constructor(private readonly ctx: DecoderContext) {}

  private get deprecateEof(): boolean {
    return (this.serverCaps & this.clientCaps & CLIENT_DEPRECATE_EOF) !== 0;
  }

  push(from: Sender, bytes: Buffer, at: EventRef): void {
    if (this.stopped) return;
    const q = from === 'client' ? this.client : this.server;
    q.push(bytes);
    while (!this.stopped && q.length >= 4) {
      const length = q.peek().readUIntLE(0, 3);
      if (q.length < length + 4) return;
      const packet = q.take(length + 4).subarray(4);
      try {
        if (from === 'client') this.clientPacket(packet, at);
        else this.serverPacket(packet, at);
      } catch {
        // A packet this decoder does not understand: stop rather than show nonsense.
        this.stopped = true;
        this.end(at);
      }
    }
  }

  end(at: EventRef | null): void {
    for (const cmd of this.waiting.splice(0)) {
      if (at) cmd.last = at;
      this.finish(cmd);
    }
  }

  private touch(cmd: MysqlCommand, at: EventRef): void {
    cmd.last = at;
    if (cmd.events[cmd.events.length - 1] !== at.index) cmd.events.push(at.index);
  }

  private newCommand(code: number, at: EventRef): MysqlCommand {
    const cmd: MysqlCommand = {
      code, name: COMMANDS[code] ?? `0x${code.toString(16)}`, text: null, params: [], statementId: null, results: [], error: null,
      prepared: null, first: at, last: at, events: [at.index], complete: false, pending: null,
    };
    cmd.pending = this.ctx.entries.begin(at.index, () => this.entry(cmd));
    return cmd;
  }

  private clientPacket(p: Buffer, at: EventRef): void {
    if (this.phase === 'login') {
      const caps = p.readUInt32LE(0);
      if (p.length === 32 && caps & CLIENT_SSL) return; // SSLRequest: the login follows inside TLS
      this.clientCaps = caps;
      const cmd = this.newCommand(-1, at);
      cmd.name = 'CONNECT';
      let pos = 32;
      const user = cstring(p, pos);
      pos = user.next;
      if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        const n = lenenc(p, pos);
        pos = n.next + Number(n.value);
      } else if (caps & CLIENT_SECURE_CONNECTION) pos += 1 + p[pos]!;
      else pos = cstring(p, pos).next;
      const database = caps & CLIENT_CONNECT_WITH_DB && pos < p.length ? cstring(p, pos).value : null;
      cmd.login = { user: user.value, database, server: this.serverVersion };
      this.waiting.push(cmd);
      this.phase = 'auth';
      return;
    }
    if (this.phase === 'auth') {
      // Auth switch responses, fast-auth exchanges: part of the login.
      const login = this.waiting[0];
      if (login) this.touch(login, at);
      return;
    }
    if (this.phase !== 'command' || p.length === 0) return;
    const code = p[0]!;
    const cmd = this.newCommand(code, at);
    if (code === 0x03 || code === 0x16) cmd.text = p.toString('utf8', 1);
    else if (code === 0x02) cmd.text = `USE ${p.toString('utf8', 1)}`;
    else if (code === 0x17 || code === 0x19 || code === 0x1a) {
      cmd.statementId = p.readUInt32LE(1);
      const stmt = this.statements.get(cmd.statementId);
      cmd.text = stmt?.text ?? `(prepared statement ${cmd.statementId})`;
      if (code === 0x17 && stmt) cmd.params = this.executeParams(p, stmt);
    }
    if (NO_REPLY.has(code)) {
      cmd.complete = true;
      this.finish(cmd);
      return;
    }
    this.waiting.push(cmd);
    this.reply = { at: 'first' };
  }

  private executeParams(p: Buffer, stmt: Statement): unknown[] {
    if (stmt.params === 0) return [];
    let pos = 10;
    const bitmapLength = (stmt.params + 7) >> 3;
    const nulls = p.subarray(pos, pos + bitmapLength);
    pos += bitmapLength;
    const bound = p[pos++];
    if (bound === 1) {
      stmt.types = [];
      for (let i = 0; i < stmt.params; i++, pos += 2) stmt.types.push({ type: p[pos]!, unsigned: (p[pos + 1]! & 0x80) !== 0 });
    }
    const types = stmt.types;
    if (!types) return [];
    const values: unknown[] = [];
    for (let i = 0; i < stmt.params; i++) {
      if (nulls[i >> 3]! & (1 << (i & 7))) {
        values.push(null);
        continue;
      }
      const v = binaryValue(p, pos, types[i]!.type, types[i]!.unsigned);
      values.push(v.value);
      pos = v.next;
    }
    return values;
  }

  private serverPacket(p: Buffer, at: EventRef): void {
    if (this.phase === 'greeting') {
      if (p[0] === 0xff) {
        this.ctx.entries.add({ process: this.ctx.conn.process, event: at.index, time: at.time, kind: 'mysql', summary: `connection refused: ${errPacket(p).message}`, fields: { db: 'mysql', connection: this.ctx.conn.id } });
        this.stopped = true;
        return;
      }
      const version = cstring(p, 1);
      this.serverVersion = version.value;
      let pos = version.next + 4 + 8 + 1;
      this.serverCaps = p.readUInt16LE(pos);
      pos += 2;
      if (pos + 5 <= p.length) this.serverCaps |= p.readUInt16LE(pos + 3) << 16;
      this.phase = 'login';
      return;
    }
    const cmd = this.waiting[0];
    if (!cmd) return;
    this.touch(cmd, at);
    if (this.phase === 'auth') {
      if (p[0] === 0x00 || p[0] === 0xff) {
        if (p[0] === 0xff) cmd.error = errPacket(p);
        this.phase = p[0] === 0x00 ? 'command' : 'auth';
        this.done(cmd);
      }
      return;
    }
    const state = this.reply;
    switch (state.at) {
      case 'first': {
        if (p[0] === 0xff) {
          cmd.error = errPacket(p);
          return this.done(cmd);
        }
        if (p[0] === 0x00 && cmd.code === 0x16) {
          const id = p.readUInt32LE(1);
          const columns = p.readUInt16LE(5);
          const params = p.readUInt16LE(7);
          cmd.prepared = { id, params, columns };
          this.statements.set(id, { text: cmd.text ?? '', params, columns, types: null });
          if (params + columns === 0) return this.done(cmd);
          this.reply = { at: 'prepareDefs', params, columns, eofAfterParams: params > 0 };
          return;
        }
        if (p[0] === 0x00 || (p[0] === 0xfe && p.length < 9)) {
          const ok = okPacket(p);
          cmd.results.push({ columns: [], rows: [], rowCount: 0, affectedRows: ok.affectedRows, insertId: ok.insertId, info: ok.info });
          if (ok.status & SERVER_MORE_RESULTS_EXISTS) return;
          return this.done(cmd);
        }
        if (p[0] === 0xfb) return this.done(cmd); // LOCAL INFILE request: not followed here
        const count = Number(lenenc(p, 0).value);
        const result: Result = { columns: [], rows: [], rowCount: 0, affectedRows: null, insertId: null, info: '' };
        cmd.results.push(result);
        this.reply = { at: 'columns', left: count, result, eofAfter: !this.deprecateEof };
        return;
      }
      case 'columns': {
        state.result.columns.push(columnDefinition(p));
        if (--state.left === 0) this.reply = state.eofAfter ? { at: 'columnsEof', result: state.result } : { at: 'rows', result: state.result, binary: cmd.code === 0x17 };
        return;
      }
      case 'columnsEof':
        this.reply = { at: 'rows', result: state.result, binary: cmd.code === 0x17 };
        return;
      case 'rows': {
        if (p[0] === 0xff) {
          cmd.error = errPacket(p);
          return this.done(cmd);
        }
        if (p[0] === 0xfe && p.length < 0xffffff && (this.deprecateEof || p.length < 9)) {
          const status = this.deprecateEof ? okPacket(p).status : p.readUInt16LE(3);
          if (status & SERVER_MORE_RESULTS_EXISTS) {
            this.reply = { at: 'first' };
            return;
          }
          return this.done(cmd);
        }
        state.result.rowCount++;
        if (state.result.rows.length < KEEP_ROWS) state.result.rows.push(state.binary ? binaryRow(p, state.result.columns) : textRow(p, state.result.columns.length));
        return;
      }
      case 'prepareDefs': {
        // Parameter definitions, an EOF, column definitions, an EOF (EOFs only without DEPRECATE_EOF).
        if (p[0] === 0xfe && p.length < 9) {
          if (state.eofAfterParams) {
            state.eofAfterParams = false;
            if (state.columns === 0) this.done(cmd);
            return;
          }
          return this.done(cmd);
        }
        if (state.params > 0) {
          state.params--;
          if (state.params === 0 && this.deprecateEof) {
            state.eofAfterParams = false;
            if (state.columns === 0) this.done(cmd);
          }
          return;
        }
        state.columns--;
        if (state.columns === 0 && this.deprecateEof) this.done(cmd);
        return;
      }
    }
  }

  private done(cmd: MysqlCommand): void {
    if (this.waiting[0] === cmd) this.waiting.shift();
    this.reply = { at: 'first' };
    cmd.complete = true;
    this.finish(cmd);
  }

  private finish(cmd: MysqlCommand): void {
    cmd.pending?.finish(this.entry(cmd));
    cmd.pending = null;
  }

  private entry(cmd: MysqlCommand): Entry {
    const took = cmd.last.time - cmd.first.time;
    const fields: Record<string, unknown> = { db: 'mysql', connection: this.ctx.conn.id, command: cmd.name };
    let summary: string;
    if (cmd.login) {
      summary = `connect ${cmd.login.user}${cmd.login.database ? `@${cmd.login.database}` : ''}`;
      fields.user = cmd.login.user;
      fields.database = cmd.login.database;
    } else if (cmd.text !== null) {
      const text = cmd.text.replace(/\s+/g, ' ').trim();
      summary = `${cmd.code === 0x16 ? 'prepare ' : cmd.code === 0x19 ? 'close ' : ''}${text.length > 120 ? `${text.slice(0, 119)}…` : text}`;
      if (cmd.params.length > 0) summary += ` ${brief(cmd.params, 60)}`;
      fields.query = cmd.text;
      if (cmd.params.length > 0) fields.params = cmd.params;
    } else summary = cmd.name;
    let outcome: string;
    if (cmd.error) {
      outcome = `ERROR ${cmd.error.code} (${cmd.error.state}): ${cmd.error.message}`;
      fields.error = cmd.error;
    } else if (!cmd.complete) outcome = 'no reply in the recording';
    else if (cmd.login) outcome = `ok (${cmd.login.server})`;
    else if (cmd.prepared) outcome = `statement ${cmd.prepared.id}, ${plural(cmd.prepared.params, 'parameter')}`;
    else if (NO_REPLY.has(cmd.code)) outcome = 'sent';
    else {
      outcome = resultSummary(cmd.results);
      fields.rowCount = cmd.results.reduce((n, r) => n + r.rowCount, 0);
      const affected = cmd.results.find((r) => r.affectedRows !== null && r.columns.length === 0);
      if (affected) fields.affectedRows = affected.affectedRows;
    }
    return {
      process: this.ctx.conn.process,
      event: cmd.first.index,
      time: cmd.first.time,
      kind: 'mysql',
      summary: `${summary} → ${outcome}${cmd.complete && !NO_REPLY.has(cmd.code) ? ` (${duration(took)})` : ''}`,
      fields: { ...fields, durationMs: Math.round(took * 1000) / 1000 },
      events: cmd.events,
      detail: () => this.detail(cmd, took),
      decoded: { protocol: 'mysql', command: cmd },
    };
  }

  private detail(cmd: MysqlCommand, took: number): { text: string; json: Record<string, unknown> } {
    const c = this.ctx.conn;
    const lines = [`MySQL ${cmd.login ? 'login' : `COM_${cmd.name}`} on connection ${c.id} to ${c.target}`];
    lines.push(`events ${cmd.events.join(', ')}; ${cmd.complete ? duration(took) : 'no reply in the recording'}`);
    if (cmd.login) lines.push('', `user ${cmd.login.user}, database ${cmd.login.database ?? '(none)'}, server ${cmd.login.server}`);
    if (cmd.text !== null) lines.push('', 'query:', indentLines(cmd.text.trim(), '  '));
    if (cmd.params.length > 0) {
      lines.push('parameters:');
      cmd.params.forEach((v, i) => lines.push(`  ?${i + 1} = ${brief(v, 200)}`));
    }
    if (cmd.prepared) lines.push('', `prepared as statement ${cmd.prepared.id}: ${plural(cmd.prepared.params, 'parameter')}, ${plural(cmd.prepared.columns, 'column')}`);
    for (const r of cmd.results) {
      if (r.columns.length > 0) {
        lines.push('', `${plural(r.rowCount, 'row')}:`, table(r.columns.map((col) => col.name), r.rows));
        if (r.rowCount > r.rows.length) lines.push(`  (${r.rowCount - r.rows.length} more rows not kept)`);
      } else {
        lines.push('', `OK: ${plural(r.affectedRows ?? 0, 'row')} affected${r.insertId ? `, insert id ${r.insertId}` : ''}${r.info ? `, ${r.info}` : ''}`);
      }
    }
    if (cmd.error) lines.push('', `error ${cmd.error.code} (${cmd.error.state}): ${cmd.error.message}`);
    return {
      text: lines.join('\n'),
      json: {
        protocol: 'mysql',
        command: cmd.name,
        connection: { id: c.id, target: c.target, peer: c.peer },
        login: cmd.login ?? null,
        query: cmd.text,
        params: cmd.params,
        results: cmd.results.map((r) => ({ columns: r.columns.map((col) => col.name), rowCount: r.rowCount, rows: r.rows, affectedRows: r.affectedRows, insertId: r.insertId })),
        error: cmd.error,
        complete: cmd.complete,
        durationMs: Math.round(took * 1000) / 1000,
        events: cmd.events,
      },
    };
  }
}

function resultSummary(results: Result[]): string {
  if (results.length === 0) return 'ok';
  const parts = results.map((r) => (r.columns.length > 0 ? plural(r.rowCount, 'row') : r.affectedRows ? `${plural(r.affectedRows, 'row')} affected` : 'ok'));
  return parts.length > 3 ? `${parts.slice(0, 3).join('; ')}; …` : parts.join('; ');
}

function cstring(buf: Buffer, at: number): { value: string; next: number } {
  let end = buf.indexOf(0, at);
  if (end < 0) end = buf.length;
  return { value: buf.toString('utf8', at, end), next: end + 1 };
}

function lenenc(buf: Buffer, at: number): { value: number | bigint | null; next: number } {
  const first = buf[at]!;
  if (first < 0xfb) return { value: first, next: at + 1 };
  if (first === 0xfb) return { value: null, next: at + 1 };
  if (first === 0xfc) return { value: buf.readUInt16LE(at + 1), next: at + 3 };
  if (first === 0xfd) return { value: buf.readUIntLE(at + 1, 3), next: at + 4 };
  const big = buf.readBigUInt64LE(at + 1);
  return { value: big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big, next: at + 9 };
}

function lenencString(buf: Buffer, at: number): { value: Buffer | null; next: number } {
  const n = lenenc(buf, at);
  if (n.value === null) return { value: null, next: n.next };
  const len = Number(n.value);
  return { value: buf.subarray(n.next, n.next + len), next: n.next + len };
}

function okPacket(p: Buffer): { affectedRows: number; insertId: number; status: number; info: string } {
  const affected = lenenc(p, 1);
  const insert = lenenc(p, affected.next);
  const status = insert.next + 2 <= p.length ? p.readUInt16LE(insert.next) : 0;
  const info = insert.next + 4 < p.length ? p.toString('utf8', insert.next + 4) : '';
  return { affectedRows: Number(affected.value ?? 0), insertId: Number(insert.value ?? 0), status, info: info.replace(/^[\x00-\x1f]+/, '') };
}

function errPacket(p: Buffer): { code: number; state: string; message: string } {
  const code = p.readUInt16LE(1);
  if (p[3] === 0x23 /* # */) return { code, state: p.toString('latin1', 4, 9), message: p.toString('utf8', 9) };
  return { code, state: '', message: p.toString('utf8', 3) };
}

function columnDefinition(p: Buffer): Column {
  let pos = 0;
  const strings: string[] = [];
  for (let i = 0; i < 6; i++) {
    const s = lenencString(p, pos);
    strings.push(s.value ? s.value.toString('utf8') : '');
    pos = s.next;
  }
  // MariaDB may add extended type information (a length-encoded string) before the fixed fields,
  // whose length byte is always 0x0c.
  while (pos < p.length && p[pos] !== 0x0c) pos = lenencString(p, pos).next;
  pos += 1;
  const type = p[pos + 6]!;
  const flags = p.readUInt16LE(pos + 7);
  return { name: strings[4]!, type, unsigned: (flags & 0x20) !== 0 };
}

function textRow(p: Buffer, columns: number): unknown[] {
  const row: unknown[] = [];
  let pos = 0;
  for (let i = 0; i < columns && pos < p.length; i++) {
    const s = lenencString(p, pos);
    row.push(s.value === null ? null : s.value.toString('utf8'));
    pos = s.next;
  }
  return row;
}

function binaryRow(p: Buffer, columns: Column[]): unknown[] {
  const bitmapLength = (columns.length + 7 + 2) >> 3;
  const nulls = p.subarray(1, 1 + bitmapLength);
  let pos = 1 + bitmapLength;
  const row: unknown[] = [];
  columns.forEach((col, i) => {
    const bit = i + 2;
    if (nulls[bit >> 3]! & (1 << (bit & 7))) {
      row.push(null);
      return;
    }
    const v = binaryValue(p, pos, col.type, col.unsigned);
    row.push(v.value);
    pos = v.next;
  });
  return row;
}

/** One value of the binary protocol (COM_STMT_EXECUTE parameters and binary result rows). */
function binaryValue(p: Buffer, pos: number, type: number, unsigned: boolean): { value: unknown; next: number } {
  switch (type) {
    case 0x01: // TINY
      return { value: unsigned ? p.readUInt8(pos) : p.readInt8(pos), next: pos + 1 };
    case 0x02: // SHORT
    case 0x0d: // YEAR
      return { value: unsigned ? p.readUInt16LE(pos) : p.readInt16LE(pos), next: pos + 2 };
    case 0x03: // LONG
    case 0x09: // INT24
      return { value: unsigned ? p.readUInt32LE(pos) : p.readInt32LE(pos), next: pos + 4 };
    case 0x08: {
      // LONGLONG
      const big = unsigned ? p.readBigUInt64LE(pos) : p.readBigInt64LE(pos);
      const safe = big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER);
      return { value: safe ? Number(big) : big.toString(), next: pos + 8 };
    }
    case 0x04: // FLOAT
      return { value: p.readFloatLE(pos), next: pos + 4 };
    case 0x05: // DOUBLE
      return { value: p.readDoubleLE(pos), next: pos + 8 };
    case 0x06: // NULL
      return { value: null, next: pos };
    case 0x07: // TIMESTAMP
    case 0x0a: // DATE
    case 0x0c: {
      // DATETIME
      const len = p[pos]!;
      const d = p.subarray(pos + 1, pos + 1 + len);
      const two = (n: number) => String(n).padStart(2, '0');
      let s = len >= 4 ? `${d.readUInt16LE(0)}-${two(d[2]!)}-${two(d[3]!)}` : '0000-00-00';
      if (len >= 7) s += ` ${two(d[4]!)}:${two(d[5]!)}:${two(d[6]!)}`;
      if (len >= 11) s += `.${String(d.readUInt32LE(7)).padStart(6, '0')}`;
      return { value: s, next: pos + 1 + len };
    }
    case 0x0b: {
      // TIME
      const len = p[pos]!;
      const d = p.subarray(pos + 1, pos + 1 + len);
      let s = '00:00:00';
      if (len >= 8) {
        const hours = d.readUInt32LE(1) * 24 + d[5]!;
        s = `${d[0] ? '-' : ''}${String(hours).padStart(2, '0')}:${String(d[6]).padStart(2, '0')}:${String(d[7]).padStart(2, '0')}`;
        if (len >= 12) s += `.${String(d.readUInt32LE(8)).padStart(6, '0')}`;
      }
      return { value: s, next: pos + 1 + len };
    }
    default: {
      // Strings, decimals, blobs, JSON, bits, enums, sets, geometry: length-encoded bytes.
      const s = lenencString(p, pos);
      const bytes = s.value ?? Buffer.alloc(0);
      const text = bytes.toString('utf8');
      return { value: type === 0x10 || type === 0xff || text.includes('\ufffd') ? Buffer.from(bytes) : text, next: s.next };
    }
  }
}

