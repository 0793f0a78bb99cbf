// One replayed process under the adapter's control: the replay of a recording, started with the
// hook (hook.ts) that holds it before the program's first line, and a client for the Chrome DevTools
// Protocol relayed by its debugger thread (worker.ts). The adapter keeps one running and one spare.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PreparedReplay } from '../../cli/replay.js';
import { ENV } from '../../runtime/paths.js';
import { scriptPath } from '../location.js';
import { DAP_ENV, type FromWorker, type ToWorker } from './protocol.js';

export interface CdpLocation {
  scriptId: string;
  lineNumber: number;
  columnNumber?: number;
}

export interface CdpScope {
  type: string;
  name?: string;
  object: { objectId?: string; description?: string };
}

export interface CdpCallFrame {
  callFrameId: string;
  functionName: string;
  url: string;
  location: CdpLocation;
  scopeChain: CdpScope[];
  this: unknown;
}

export interface Paused {
  reason: string;
  hitBreakpoints?: string[];
  callFrames: CdpCallFrame[];
  /** The last recorded event the replay consumed when it paused. */
  event: number;
}

export interface ScriptInfo {
  url: string;
  sourceMapURL: string;
}

/** Why a wait for a pause ended without one. */
export interface Ended {
  exited: true;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Every replay started and not ended: they end with the adapter, whatever ends it. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const hookUrl = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'hook.js')).href;

export class ReplayProcess extends EventEmitter {
  readonly child: ChildProcess;
  readonly scripts = new Map<string, ScriptInfo>();
  /** The session's breakpoint locations set here (by location id): V8's breakpoint and where it bound. */
  readonly breakpoints = new Map<number, { v8Id: string; resolved: CdpLocation[] }>();
  readonly started = Date.now();
  /** Set while the program is paused. */
  paused: Paused | null = null;
  exit: Ended | null = null;
  /** What the replay wrote on stderr (retrace's messages: divergence, stalls). */
  stderrText = '';
  private readonly out: Writable;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private pauseWaiters: ((p: Paused | Ended) => void)[] = [];
  readonly ready: Promise<void>;

  constructor(prepared: PreparedReplay, stallMs: number | undefined) {
    super();
    const preload = prepared.args.findIndex((a) => a.startsWith('--require='));
    const nodeArgs = [...prepared.args.slice(0, preload + 1), `--import=${hookUrl}`, ...prepared.args.slice(preload + 1)];
    const env: NodeJS.ProcessEnv = { ...prepared.env, [DAP_ENV]: '1' };
    // Time spent paused at a breakpoint is not a stall of the replay.
    env[ENV.stallMs] = String(stallMs ?? 24 * 3600_000);
    this.child = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'], env, cwd: prepared.replayRoot });
    running.add(this.child);
    this.out = this.child.stdio[4] as Writable;
    this.out.on('error', () => {});
    const fromWorker = this.child.stdio[3] as Readable;
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => this.emit('output', 'stdout', d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderrText += d;
      this.emit('output', 'stderr', d);
    });
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => {});
    let pending = '';
    fromWorker.setEncoding('utf8');
    fromWorker.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line) continue;
        const m = JSON.parse(line) as FromWorker;
        if ('id' in m) {
          const w = this.waiting.get(m.id);
          this.waiting.delete(m.id);
          if (m.error !== undefined) w?.reject(new Error(m.error));
          else w?.resolve(m.result);
        } else if ('type' in m) {
          if (m.type === 'ready') readyResolve();
          else readyReject(new Error(m.message));
        } else this.onEvent(m.method, m.params, m.event);
      }
    });
    this.child.on('exit', (code, signal) => {
      running.delete(this.child);
      this.exit = { exited: true, code, signal };
      this.paused = null;
      readyReject(new Error(`the replay ended before its debugger started${this.stderrText ? `: ${this.stderrText.trim().split('\n').pop()}` : ''}`));
      for (const w of this.waiting.values()) w.reject(new Error('the replay ended'));
      this.waiting.clear();
      for (const w of this.pauseWaiters.splice(0)) w(this.exit);
      this.emit('exit', this.exit);
    });
    this.child.on('error', (err) => readyReject(err));
  }

  private onEvent(method: string, params: unknown, event: number): void {
    if (method === 'Debugger.scriptParsed') {
      const p = params as { scriptId: string } & ScriptInfo;
      this.scripts.set(p.scriptId, { url: p.url, sourceMapURL: p.sourceMapURL });
      this.emit('script', p.scriptId, p);
    } else if (method === 'Debugger.paused') {
      this.paused = { ...(params as Omit<Paused, 'event'>), event };
      for (const w of this.pauseWaiters.splice(0)) w(this.paused);
    } else if (method === 'Debugger.breakpointResolved') {
      const p = params as { breakpointId: string; location: CdpLocation };
      for (const b of this.breakpoints.values()) if (b.v8Id === p.breakpointId) b.resolved.push(p.location);
    } else if (method === 'Debugger.resumed') {
      this.paused = null;
    }
  }

  private write(message: ToWorker): void {
    this.out.write(`${JSON.stringify(message)}\n`);
  }

  /** A Chrome DevTools Protocol command, answered by the program's inspector. */
  send<T = Record<string, unknown>>(method: string, params?: object): Promise<T> {
    if (this.exit) return Promise.reject(new Error('the replay has ended'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.write({ id, method, params });
    });
  }

  /** Writes slots of the array shared with the program's thread. */
  setShared(set: [number, number][]): Promise<void> {
    if (this.exit) return Promise.reject(new Error('the replay has ended'));
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve: () => resolve(), reject });
      this.write({ id, type: 'shared', set });
    });
  }

  readShared(slots: number[]): Promise<number[]> {
    if (this.exit) return Promise.reject(new Error('the replay has ended'));
    const id = this.nextId++;
    return new Promise<number[]>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.write({ id, type: 'read', slots });
    });
  }

  /** The file of a frame's script, or null for Node's own and scripts without a file. */
  scriptFile(frame: CdpCallFrame): string | null {
    const url = this.scripts.get(frame.location.scriptId)?.url;
    return url ? scriptPath(url) : null;
  }

  /** Lets the program start (it waits in the hook until then). */
  go(): void {
    this.write({ type: 'go' });
  }

  /** The next pause, or the end of the process. Call before the command that resumes. */
  nextPause(): Promise<Paused | Ended> {
    if (this.exit) return Promise.resolve(this.exit);
    return new Promise((resolve) => this.pauseWaiters.push(resolve));
  }

  kill(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }
}
