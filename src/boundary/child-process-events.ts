// What the child-process boundary writes to a trace: channel names and delivery kinds. Shared by the
// boundary (src/boundary/child-process.ts) and `retrace info`, which lists a process's children from
// these events without loading the boundary itself.

/** Request: one asynchronous child (spawn, exec, execFile, fork). Args: a SpawnKey. */
export const SPAWN_CHANNEL = 'child_process.spawn';
/** Call: the outcome of starting it. Args: [request id]. Result: { err, pid } (err is a libuv code, 0 when started). */
export const STARTED_CHANNEL = 'child_process.started';
/** Request: one stdio pipe of a child. Args: [child request id, fd]. Its deliveries are the socket layer's (net.ts). */
export const STDIO_CHANNEL = 'child_process.stdio';
/** Call: ChildProcess#kill reaching the process. Args: [child request id, signal number]. Result: libuv code. */
export const KILL_CHANNEL = 'child_process.kill';
/** Call: one message written to the IPC channel. Args: [child request id, the serialized message]. */
export const SEND_CHANNEL = 'child_process.send';
/** Call: spawnSync, execSync and execFileSync. Args: a SpawnKey with the input. Result: Node's raw result. */
export const SPAWN_SYNC_CHANNEL = 'child_process.spawnSync';

/** Deliveries to a child's request: [kind, inline mark (see net.ts), ...]. */
export const ChildDelivery = {
  /** The process ended: [EXIT, inline, exitCode, signalCode]. */
  EXIT: 0,
  /** Bytes read from the IPC channel: [IPC_DATA, inline, bytes]. */
  IPC_DATA: 1,
  /** The IPC channel reached its end: [IPC_EOF, inline, nread]. */
  IPC_EOF: 2,
  /** An IPC write completed later: [IPC_WRITTEN, inline, status]. */
  IPC_WRITTEN: 3,
} as const;

/** The arguments of a spawn that matter: what runs, where, and what it is given. */
export interface SpawnKey {
  file: string;
  /** argv as the child sees it, argv0 first. */
  args: string[];
  cwd: string | null;
  /** Variables whose value differs from the parent's environment (added or changed); not the whole environment. */
  env: Record<string, string>;
  /** Per fd: 'pipe', 'ipc', 'ignore', 'inherit', 'fd:N' or 'stream'. */
  stdio: string[];
  detached?: true;
  uid?: number;
  gid?: number;
  /** spawnSync: bytes given to the child's stdin (`input`), per fd. */
  input?: (Buffer | null)[];
  timeout?: number;
}

/** How a spawn reads in messages and `retrace info`: the command line. */
export function commandLine(key: { file?: unknown; args?: unknown }): string {
  const args = Array.isArray(key.args) ? key.args.map(String) : [];
  const file = String(key.file ?? args[0] ?? '?');
  return [file, ...args.slice(1)].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}
