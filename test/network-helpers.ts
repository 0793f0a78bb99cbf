// Test support for programs that use network libraries (pg, mysql2, ioredis, express, ...): a work
// folder that resolves the repository's node_modules, a check that a local server is there, and a
// recorded server driven by an unrecorded client from the test process.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { cli, repoRoot, workdir, writeFiles, type Run } from './helpers.js';

/** A fresh folder with the given files whose programs can import the repository's dev dependencies. */
export function libraryWorkdir(files: Record<string, string>, prefix = 'retrace-net-'): string {
  const dir = workdir(prefix);
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFiles(dir, files);
  return dir;
}

const reachable = new Map<number, Promise<boolean>>();
/** Whether something accepts TCP connections on 127.0.0.1:port (a local database server). */
export function serverListening(port: number): Promise<boolean> {
  let p = reachable.get(port);
  if (!p) {
    p = new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setTimeout(2000, () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    reachable.set(port, p);
  }
  return p;
}

/** The reason a test skips when a local server is absent, or undefined when it is there. */
export async function skipUnlessServer(name: string, port: number): Promise<string | undefined> {
  if (await serverListening(port)) return undefined;
  return `${name} is not listening on 127.0.0.1:${port}; start it to run this test (see the environment notes in README.md)`;
}

/** A unique lowercase name for tables and keys, passed to the program in its environment. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
}

/** Environment for the program: ours, without retrace variables or a test-runner context. */
function programEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('RETRACE_')) delete env[key];
  delete env.NODE_TEST_CONTEXT;
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`;
  return { ...env, ...extra };
}

export interface RunningServer {
  /** The port the server printed as `listening <port>` on its first stdout line. */
  port: number;
  /** Resolves when the process exits. */
  done: Promise<Run>;
}

/**
 * Starts `retrace record -- node <file>` (or the plain program with `plain`) in dir; the program
 * must print `listening <port>` once it accepts connections.
 */
export async function startServer(
  dir: string,
  file: string,
  opts: { env?: Record<string, string>; plain?: boolean } = {},
): Promise<RunningServer> {
  const args = opts.plain ? [file] : [cli, 'record', '--force', '--out', 'recording', '--', process.execPath, file];
  // In a process group of its own, so that the killer below reaches the recorded program too
  // (SIGKILL to the CLI alone would orphan it, holding the pipes open and `done` unresolved).
  const child = spawn(process.execPath, args, { cwd: dir, env: programEnv(opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const killer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }, 90_000);
  const done = new Promise<Run>((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(killer);
      resolve({ status, signal, stdout, stderr });
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const m = /^listening (\d+)$/m.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    void done.then((r) => reject(new Error(`the server exited before listening\n${r.stdout}\n${r.stderr}`)));
  });
  return { port, done };
}

export interface Reply {
  status: number;
  body: string;
}

/** One HTTP request from the (unrecorded) test process. */
export function request(
  port: number,
  method: string,
  urlPath: string,
  body?: unknown,
  agent?: http.Agent,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        agent,
        headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Fires `count` requests at once over a keep-alive agent with a few sockets, so they queue and race. */
export async function burst(port: number, count: number, make: (i: number) => [string, string, unknown?]): Promise<Reply[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    return await Promise.all(Array.from({ length: count }, (_, i) => request(port, ...withAgent(make(i), agent))));
  } finally {
    agent.destroy();
  }
}

function withAgent([method, urlPath, body]: [string, string, unknown?], agent: http.Agent): [string, string, unknown, http.Agent] {
  return [method, urlPath, body, agent];
}

/** Runs a command synchronously (psql, mariadb, redis-cli) and returns stdout; throws on failure. */
export function sh(command: string, args: string[], input?: string): string {
  const r = spawnSync(command, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr || r.error}`);
  return r.stdout;
}
