// The child processes a recorded process started, read from its trace (the child-process boundary's
// events), and which recorded process each one became.
import { getSystemErrorName } from 'node:util';
import type { TraceEvent } from '../core/trace/reader.js';
import {
  ChildDelivery, commandLine, SPAWN_CHANNEL, SPAWN_SYNC_CHANNEL, STARTED_CHANNEL, type SpawnKey,
} from '../boundary/child-process-events.js';

export interface ChildInfo {
  /** The recorded pid (absent when the command could not be started). */
  pid: number | null;
  command: string;
  sync: boolean;
  /** How it ended: 'exit status N', 'killed by SIG', 'failed to start (ENOENT)', 'running when the recording ended'. */
  end: string;
  /** The recorded process it became (a Node.js child, or the first Node.js process a shell child ran), if any. */
  process: number | null;
  /** Every recorded process it became or started directly (a shell running several Node.js commands). */
  processes: number[];
}

/** Collects a process's children while `retrace info` reads its events once. */
export class ChildCollector {
  private readonly byRequest = new Map<number, ChildInfo>();
  readonly children: ChildInfo[] = [];

  note(ev: TraceEvent): void {
    if (ev.kind === 'request' && ev.channel.name === SPAWN_CHANNEL) {
      const child: ChildInfo = { pid: null, command: commandLine(ev.args as SpawnKey), sync: false, end: 'running when the recording ended', process: null, processes: [] };
      this.byRequest.set(ev.reqId, child);
      this.children.push(child);
    } else if (ev.kind === 'call' && ev.channel.name === STARTED_CHANNEL) {
      const child = this.byRequest.get((ev.args as number[])[0]!);
      const { err, pid } = (ev.result ?? {}) as { err?: number; pid?: number };
      if (!child) return;
      if (typeof pid === 'number') child.pid = pid;
      if (err) child.end = `failed to start (${errorName(err)})`;
    } else if (ev.kind === 'deliver') {
      const child = this.byRequest.get(ev.reqId);
      const p = ev.payload as unknown[];
      if (child && Array.isArray(p) && p[0] === ChildDelivery.EXIT) child.end = describeEnd(p[2], p[3]);
    } else if (ev.kind === 'call' && ev.channel.name === SPAWN_SYNC_CHANNEL) {
      const r = (ev.threw ? {} : ev.result ?? {}) as { pid?: number; status?: number | null; signal?: string | null; error?: number };
      this.children.push({
        pid: typeof r.pid === 'number' && r.pid > 0 ? r.pid : null,
        command: commandLine(ev.args as SpawnKey),
        sync: true,
        end: r.error ? `failed (${errorName(r.error)})` : describeEnd(r.status, r.signal),
        process: null,
        processes: [],
      });
    }
  }
}

function describeEnd(code: unknown, signal: unknown): string {
  return typeof signal === 'string' && signal ? `killed by ${signal}` : `exit status ${String(code)}`;
}

function errorName(err: number): string {
  try {
    return getSystemErrorName(err);
  } catch {
    return String(err);
  }
}

/**
 * Links children to the recorded processes they became: a recorded process whose parent is this
 * one, with the child's pid (a Node.js child) or with it as parent pid (Node.js run by a shell child).
 */
export function linkChildren(processes: { process: number; parent: number | null; pid: number; ppid?: number; children: ChildInfo[] }[]): void {
  for (const p of processes) {
    for (const child of p.children) {
      if (child.pid === null) continue;
      const became = processes.filter((q) => q.parent === p.process && (q.pid === child.pid || q.ppid === child.pid));
      child.processes = became.map((q) => q.process);
      child.process = (became.find((q) => q.pid === child.pid) ?? became[0])?.process ?? null;
    }
  }
}
