// Follows the socket layer's events (src/boundary/net.ts, tls.ts) in a trace: which request ids are
// sockets, who connected to whom, the bytes each way, and picks a protocol decoder per connection
// from its first bytes (and the server's port when the bytes do not say).
import { SOCKET_DELIVERY } from '../boundary/catalog.js';
import type { TraceEvent } from '../core/trace/reader.js';
import type { Entry, EventRef, OrderedEntries, Pending } from './entry.js';
import { brief, bytesBrief, bytesCount, hexdump } from './render.js';
import { HttpDecoder, looksLikeHttpRequest } from './protocols/http.js';
import { looksLikeMysqlGreeting, MysqlDecoder } from './protocols/mysql.js';
import { looksLikePostgresStartup, PostgresDecoder } from './protocols/postgres.js';
import { looksLikeRespCommand, RespDecoder } from './protocols/resp.js';
import type { ConnectionInfo, Decoder, Sender } from './protocols/types.js';

// Delivery kinds of the socket layer (net.ts `K`): [kind, inline, ...].
const K = SOCKET_DELIVERY;

const PORT_PROTOCOLS: Record<number, string> = { 5432: 'pg', 3306: 'mysql', 6379: 'redis', 80: 'http', 8080: 'http', 443: 'http', 3000: 'http' };

interface Connection {
  info: ConnectionInfo;
  decoder: Decoder | null;
  /** Decided: a decoder, or raw bytes shown as they are. */
  decided: boolean;
  protocol: string;
  connectPending: Pending | null;
  connectEvent: EventRef | null;
}

interface Listener {
  address: string;
  port: number | null;
  pending: Pending | null;
  start: EventRef;
}

function address(a: unknown): string {
  if (!a || typeof a !== 'object') return '?';
  const o = a as { address?: string; port?: number };
  if (o.address === undefined) return '?';
  const host = o.address.startsWith('::ffff:') ? o.address.slice(7) : o.address;
  return o.port === undefined ? host : `${host.includes(':') ? `[${host}]` : host}:${o.port}`;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ?? e.message;
  return brief(e, 60);
}

export class SocketTracker {
  private readonly connections = new Map<number, Connection>();
  private readonly listeners = new Map<number, Listener>();
  /** An accept delivered to a listener, waiting for its `net.accepted` request. */
  private lastAccept: { remote: unknown; local: unknown } | null = null;

  constructor(
    private readonly process: number,
    private readonly entries: OrderedEntries,
  ) {}

  /** Takes the event if it belongs to the socket layer; false otherwise. */
  handle(ev: TraceEvent): boolean {
    if (ev.kind === 'request') {
      switch (ev.channel.name) {
        case 'net.connect':
          this.connect(ev, ev.args as Record<string, unknown>, false);
          return true;
        case 'tls.connect': {
          const args = ev.args as Record<string, unknown>;
          const raw = typeof args.socket === 'number' ? this.connections.get(args.socket) : undefined;
          if (raw) {
            // A TLS upgrade (STARTTLS, pg's and mysql2's SSL): the same conversation continues inside it.
            raw.info.tls = true;
            this.connections.set(ev.reqId, raw);
          } else this.connect(ev, args, true);
          return true;
        }
        case 'child_process.stdio': {
          // A child's stdio pipe: a socket of the socket layer, shown as raw bytes.
          const [child, fd] = ev.args as [number, number];
          const name = `child ${child} ${['stdin', 'stdout', 'stderr'][fd] ?? `fd ${fd}`}`;
          const info: ConnectionInfo = { id: ev.reqId, process: this.process, role: 'client', target: name, peer: name, tls: false, serverPort: null };
          this.connections.set(ev.reqId, { info, decoder: null, decided: true, protocol: 'raw', connectPending: null, connectEvent: null });
          return true;
        }
        case 'net.listen': {
          const args = ev.args as unknown[];
          const listener: Listener = { address: '', port: typeof args[1] === 'number' ? args[1] : null, pending: null, start: { index: ev.index, time: ev.time } };
          listener.pending = this.entries.begin(ev.index, () => this.plain(ev, 'net', `listen on port ${listener.port ?? '?'}`));
          this.listeners.set(ev.reqId, listener);
          return true;
        }
        case 'net.accepted':
        case 'tls.accepted': {
          const [from] = ev.args as [number];
          if (ev.channel.name === 'tls.accepted') {
            const raw = this.connections.get(from);
            if (raw) {
              raw.info.tls = true;
              this.connections.set(ev.reqId, raw);
              return true;
            }
          }
          const listener = this.listeners.get(from);
          const accept = this.lastAccept;
          this.lastAccept = null;
          const target = accept ? address(accept.local) : listener?.address ?? '?';
          const info: ConnectionInfo = {
            id: ev.reqId, process: this.process, role: 'server', target, peer: accept ? address(accept.remote) : '?',
            tls: ev.channel.name === 'tls.accepted', serverPort: listener?.port ?? portOf(target),
          };
          this.connections.set(ev.reqId, { info, decoder: null, decided: false, protocol: 'raw', connectPending: null, connectEvent: null });
          this.entries.add(this.plain(ev, 'net', `accept connection ${ev.reqId} from ${info.peer} on ${target}`, { connection: ev.reqId, peer: info.peer }));
          return true;
        }
        default:
          return false;
      }
    }
    if (ev.kind === 'call') {
      if (ev.channel.name === 'net.write') {
        const [id, bytes] = ev.args as [number, unknown];
        const conn = this.connections.get(id);
        if (!conn || !Buffer.isBuffer(bytes)) return conn !== undefined;
        this.bytes(conn, conn.info.role === 'client' ? 'client' : 'server', bytes, ev, 'write');
        return true;
      }
      if (ev.channel.name === 'net.shutdown' || ev.channel.name === 'net.sockname' || ev.channel.name === 'tls.get') {
        return true;
      }
      return false;
    }
    if (ev.kind === 'deliver') {
      const listener = this.listeners.get(ev.reqId);
      if (listener) {
        this.listenerDelivery(listener, ev);
        return true;
      }
      const conn = this.connections.get(ev.reqId);
      if (!conn) return false;
      this.socketDelivery(conn, ev as Extract<TraceEvent, { kind: 'deliver' }>);
      return true;
    }
    return false;
  }

  private connect(ev: Extract<TraceEvent, { kind: 'request' }>, args: Record<string, unknown>, tls: boolean): void {
    const target = args.path !== undefined ? String(args.path) : `${args.host ?? 'localhost'}:${args.port ?? '?'}`;
    const info: ConnectionInfo = { id: ev.reqId, process: this.process, role: 'client', target, peer: target, tls, serverPort: portOf(target) };
    const conn: Connection = { info, decoder: null, decided: false, protocol: 'raw', connectPending: null, connectEvent: { index: ev.index, time: ev.time } };
    conn.connectPending = this.entries.begin(ev.index, () =>
      this.plain(ev, 'net', `${tls ? 'TLS ' : ''}connect ${target} (connection ${ev.reqId}) → no outcome in the recording`, { connection: ev.reqId, target }),
    );
    this.connections.set(ev.reqId, conn);
  }

  private connected(conn: Connection, outcome: string, fields: Record<string, unknown> = {}): void {
    const at = conn.connectEvent;
    if (!conn.connectPending || !at) return;
    const { info } = conn;
    conn.connectPending.finish({
      process: this.process, event: at.index, time: at.time, kind: 'net',
      summary: `${info.tls ? 'TLS ' : ''}connect ${info.target} (connection ${info.id}) → ${outcome}`,
      fields: { connection: info.id, target: info.target, ...fields },
    });
    conn.connectPending = null;
  }

  private listenerDelivery(listener: Listener, ev: Extract<TraceEvent, { kind: 'deliver' }>): void {
    const p = ev.payload as unknown[];
    if (!Array.isArray(p)) return;
    if (p[0] === K.LISTEN) {
      listener.address = p[2] ? address(p[2]) : '?';
      listener.port = portOf(listener.address) ?? listener.port;
      listener.pending?.finish(this.plainAt(listener.start, 'net', `listen on ${listener.address}`, { listen: listener.address }));
      listener.pending = null;
    } else if (p[0] === K.LERR || p[0] === K.THROW) {
      listener.pending?.finish(this.plainAt(listener.start, 'net', `listen on port ${listener.port ?? '?'} → ${errorText(p[2])}`));
      listener.pending = null;
    } else if (p[0] === K.ACCEPT) {
      this.lastAccept = { remote: p[2], local: p[3] };
    } else if (p[0] === K.AERR) {
      this.entries.add(this.plain(ev, 'net', `accept failed on ${listener.address}: ${errorText(p[2])}`));
    }
  }

  private socketDelivery(conn: Connection, ev: Extract<TraceEvent, { kind: 'deliver' }>): void {
    const p = ev.payload as unknown[];
    if (!Array.isArray(p)) return;
    const at = { index: ev.index, time: ev.time };
    switch (p[0]) {
      case K.DATA:
        if (Buffer.isBuffer(p[2])) this.bytes(conn, conn.info.role === 'client' ? 'server' : 'client', p[2], ev, 'read');
        return;
      case K.CONNECT: {
        conn.info.peer = address(p[3]);
        this.connected(conn, `connected from ${address(p[2])}`, { local: address(p[2]), remote: conn.info.peer });
        return;
      }
      case K.FAIL:
      case K.THROW:
        this.connected(conn, `failed: ${errorText(p[2])}`, { error: errorText(p[2]) });
        if (!conn.connectPending) this.entries.add(this.plain(ev, 'net', `connection ${conn.info.id} to ${conn.info.target} failed: ${errorText(p[2])}`));
        return;
      case K.HS:
        return;
      case K.TLSERR:
        this.entries.add(this.plain(ev, 'net', `TLS error on connection ${conn.info.id} (${conn.info.target}): ${errorText(p[2])}`));
        return;
      case K.RERR:
        this.entries.add(this.plain(ev, 'net', `connection ${conn.info.id} (${conn.info.target}) read error ${p[2]}`));
        return;
      case K.TIMEOUT:
        this.entries.add(this.plain(ev, 'net', `connection ${conn.info.id} (${conn.info.target}) timed out`));
        return;
      case K.CLOSE:
        conn.decoder?.end(at);
        this.connected(conn, 'closed before connecting');
        if (p[2] === true) this.entries.add(this.plain(ev, 'net', `connection ${conn.info.id} (${conn.info.target}) closed with an error`));
        this.connections.delete(conn.info.id);
        return;
      case K.WDONE:
        if (p[2]) this.entries.add(this.plain(ev, 'net', `write on connection ${conn.info.id} (${conn.info.target}) failed: ${errorText(p[2])}`));
        return;
      default:
    }
  }

  private bytes(conn: Connection, from: Sender, bytes: Buffer, ev: TraceEvent, how: 'read' | 'write'): void {
    const at = { index: ev.index, time: ev.time };
    if (!conn.decided) this.decide(conn, from, bytes);
    if (conn.decoder) {
      conn.decoder.push(from, bytes, at);
      return;
    }
    const { info } = conn;
    const arrow = how === 'write' ? '→' : '←';
    this.entries.add({
      process: this.process, event: ev.index, time: ev.time, kind: info.serverPort === null && info.target.startsWith('child ') ? 'child' : 'net',
      summary: `${arrow} ${info.role === 'client' ? info.target : info.peer} ${bytesCount(bytes.length)} ${bytesBrief(bytes, 48)}`,
      fields: { connection: info.id, direction: how === 'write' ? 'out' : 'in', bytes: bytes.length },
      detail: () => ({
        text: `${how === 'write' ? 'written to' : 'read from'} connection ${info.id} (${info.role === 'client' ? `to ${info.target}` : `from ${info.peer}`}), ${bytes.length} bytes; no decoder recognized this connection's protocol\n${hexdump(bytes)}`,
        json: { connection: info.id, direction: how === 'write' ? 'out' : 'in', bytes: bytes.toString('base64') },
      }),
    });
  }

  private decide(conn: Connection, from: Sender, first: Buffer): void {
    conn.decided = true;
    const ctx = { conn: conn.info, entries: this.entries };
    const hint = conn.info.serverPort !== null ? PORT_PROTOCOLS[conn.info.serverPort] : undefined;
    let protocol: string | null = null;
    if (from === 'client') {
      if (looksLikeHttpRequest(first)) protocol = 'http';
      else if (looksLikePostgresStartup(first)) protocol = 'pg';
      else if (looksLikeRespCommand(first)) protocol = 'redis';
    } else if (looksLikeMysqlGreeting(first)) protocol = 'mysql';
    if (!protocol && hint === 'redis' && from === 'client') protocol = 'redis'; // inline commands
    conn.protocol = protocol ?? 'raw';
    if (protocol === 'http') conn.decoder = new HttpDecoder(ctx);
    else if (protocol === 'pg') conn.decoder = new PostgresDecoder(ctx);
    else if (protocol === 'mysql') conn.decoder = new MysqlDecoder(ctx);
    else if (protocol === 'redis') conn.decoder = new RespDecoder(ctx);
  }

  /** The end of the trace: connections still open complete what they can. */
  close(): void {
    for (const conn of new Set(this.connections.values())) {
      conn.decoder?.end(null);
      this.connected(conn, 'no outcome in the recording');
    }
    this.connections.clear();
  }

  private plain(ev: TraceEvent, kind: string, summary: string, fields?: Record<string, unknown>): Entry {
    return { process: this.process, event: ev.index, time: ev.time, kind, summary, ...(fields ? { fields } : {}) };
  }

  private plainAt(start: EventRef, kind: string, summary: string, fields?: Record<string, unknown>): Entry {
    return { process: this.process, event: start.index, time: start.time, kind, summary, ...(fields ? { fields } : {}) };
  }
}

function portOf(target: string): number | null {
  const m = /:(\d+)$/.exec(target);
  return m ? Number(m[1]) : null;
}
