// Test support: a client for the V8 inspector protocol over its WebSocket, as VS Code and Chrome
// DevTools speak it, and the source-map arithmetic a debugger does to stop in TypeScript.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

type Message = { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string } };

/** One debugger connection: commands with `send`, events with `next`. */
export class InspectorSession {
  private nextId = 1;
  private readonly replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly events: Message[] = [];
  private readonly waiters: Array<{ method: string; resolve: (p: Record<string, unknown>) => void }> = [];
  private closedWith: Error | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (e: MessageEvent) => this.onMessage(JSON.parse(String(e.data)) as Message));
    socket.addEventListener('close', () => this.fail(new Error('the inspector closed the connection')));
  }

  static async connect(url: string): Promise<InspectorSession> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error(`cannot connect to the inspector at ${url}`)), { once: true });
    });
    return new InspectorSession(socket);
  }

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => this.replies.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }

  /** The next event named `method` (one already received, or the next to arrive). */
  next(method: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const i = this.events.findIndex((e) => e.method === method);
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]!.params ?? {});
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const waiter = { method, resolve };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${method} within ${timeoutMs} ms`));
      }, timeoutMs).unref(); // the open connection keeps the process, not this timer
      waiter.resolve = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
      this.waiters.push(waiter);
    });
  }

  /** Every event of this kind received so far (and forgets them). */
  drain(method: string): Array<Record<string, unknown>> {
    const taken = this.events.filter((e) => e.method === method);
    for (const e of taken) this.events.splice(this.events.indexOf(e), 1);
    return taken.map((e) => e.params ?? {});
  }

  close(): void {
    this.socket.close();
  }

  private onMessage(m: Message): void {
    if (m.id !== undefined) {
      const reply = this.replies.get(m.id);
      this.replies.delete(m.id);
      if (m.error) reply?.reject(new Error(m.error.message));
      else reply?.resolve(m.result);
      return;
    }
    const w = this.waiters.findIndex((x) => x.method === m.method);
    if (w >= 0) this.waiters.splice(w, 1)[0]!.resolve(m.params ?? {});
    else this.events.push(m);
  }

  private fail(err: Error): void {
    this.closedWith = err;
    for (const r of this.replies.values()) r.reject(err);
    this.replies.clear();
  }
}

// --- source maps: the base64 VLQ mappings of the Source Map v3 format ---

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** One mapping: a generated position and the original position it came from (all from 0). */
export interface Mapping {
  generatedLine: number;
  generatedColumn: number;
  source: string;
  originalLine: number;
  originalColumn: number;
}

/** Decodes the mappings of a generated file's `.map` beside it; sources become absolute paths. */
export function readSourceMap(generatedFile: string): Mapping[] {
  const mapFile = `${generatedFile}.map`;
  const map = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as { sources: string[]; sourceRoot?: string; mappings: string };
  const sources = map.sources.map((s) =>
    s.startsWith('file://') ? fileURLToPath(s) : path.resolve(path.dirname(mapFile), map.sourceRoot ?? '', s),
  );
  const out: Mapping[] = [];
  let source = 0;
  let originalLine = 0;
  let originalColumn = 0;
  map.mappings.split(';').forEach((line, generatedLine) => {
    let generatedColumn = 0;
    for (const segment of line.split(',')) {
      if (!segment) continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = BASE64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      generatedColumn += fields[0]!;
      if (fields.length < 4) continue;
      source += fields[1]!;
      originalLine += fields[2]!;
      originalColumn += fields[3]!;
      out.push({ generatedLine, generatedColumn, source: sources[source]!, originalLine, originalColumn });
    }
  });
  return out;
}

/** Where a debugger sets the breakpoint for an original line (from 1): the first generated position mapped to it. */
export function generatedPositionFor(mappings: Mapping[], source: string, line: number): { line: number; column: number } | undefined {
  const onLine = mappings
    .filter((m) => m.source === source && m.originalLine === line - 1)
    .sort((a, b) => a.generatedLine - b.generatedLine || a.generatedColumn - b.generatedColumn);
  return onLine[0] && { line: onLine[0].generatedLine, column: onLine[0].generatedColumn };
}

/** The original position (lines from 1) of a generated one: the last mapping at or before it on its line. */
export function originalPositionFor(mappings: Mapping[], line: number, column: number): { source: string; line: number } | undefined {
  const before = mappings.filter((m) => m.generatedLine === line && m.generatedColumn <= column);
  const m = before.at(-1);
  return m && { source: m.source, line: m.originalLine + 1 };
}
