// The interface between the socket tracker and the protocol decoders.
import type { EventRef, OrderedEntries } from '../entry.js';
import type { HttpExchange } from './http.js';
import type { MysqlCommand } from './mysql.js';
import type { PostgresUnit } from './postgres.js';

/** Who sent some bytes: the connection's client or its server (the program may be either). */
export type Sender = 'client' | 'server';

export interface ConnectionInfo {
  /** The socket's id in the trace (its request id). */
  id: number;
  process: number;
  /** The program's side: it connected (client) or accepted (server). */
  role: 'client' | 'server';
  /** host:port the client connected to (for an accepted socket: the program's listening address). */
  target: string;
  /** The other end, as recorded: address:port. */
  peer: string;
  tls: boolean;
  /** The server's port: chooses a decoder when the first bytes do not. */
  serverPort: number | null;
}

/** Decodes one connection's bytes, both ways, into timeline entries. */
export interface Decoder {
  push(from: Sender, bytes: Buffer, at: EventRef): void;
  /** The connection closed (or the trace ended): complete what can be completed. */
  end(at: EventRef | null): void;
}

export interface DecoderContext {
  conn: ConnectionInfo;
  entries: OrderedEntries;
}

/** What a decoder made of an entry's bytes, for code that reasons about them (`retrace why` naming an input). */
export type Decoded = { protocol: 'http'; exchange: HttpExchange } | { protocol: 'pg'; unit: PostgresUnit } | { protocol: 'mysql'; command: MysqlCommand };

/** At most this many bytes of a body, a row set or a value are kept for display. */
export const KEEP_BYTES = 1 << 20;

/** A growing byte buffer that parsers consume from the front. */
export class ByteQueue {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  push(bytes: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = bytes;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), bytes]);
      this.pos = 0;
    }
  }

  get length(): number {
    return this.buf.length - this.pos;
  }

  /** The unconsumed bytes (a view; valid until the next push). */
  peek(): Buffer {
    return this.buf.subarray(this.pos);
  }

  take(n: number): Buffer {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    this.pos += n;
  }

  clear(): void {
    this.buf = Buffer.alloc(0);
    this.pos = 0;
  }
}
