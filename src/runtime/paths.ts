// Names shared by the CLI and the in-process runtime: environment variables, file names, locations.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { real } from '../core/originals.js';

export const ENV = {
  /** 'record' or 'replay': set by the CLI for the program's processes. */
  mode: 'RETRACE_MODE',
  /** Record: the recording folder. */
  dir: 'RETRACE_DIR',
  /** Record: the process number of the recorded parent. */
  parent: 'RETRACE_PARENT',
  /** Replay: the trace file to replay. */
  trace: 'RETRACE_TRACE',
  /** Replay: the project folder the recording is replayed in (the recording's cwd maps to it). */
  replayRoot: 'RETRACE_REPLAY_ROOT',
  /** Replay: how long to wait for unrecorded work before reporting a stall, in ms. */
  stallMs: 'RETRACE_STALL_MS',
  /** Record: the redaction rules as JSON (the project's config, checked by the CLI), or 'off' (--no-redact). */
  redact: 'RETRACE_REDACT',
  /** Replay for `retrace why`: the provenance request (JSON), which turns on instrumentation. */
  why: 'RETRACE_WHY',
  /** Record: stop a process's recording before its trace grows past this many bytes. */
  maxBytes: 'RETRACE_MAX_BYTES',
  /** Record: stop a process's recording this many ms after it started. */
  maxDurationMs: 'RETRACE_MAX_DURATION_MS',
  /** Record: '1' when the recording is encrypted (a process without the key must not record in the clear). */
  encrypted: 'RETRACE_ENCRYPTED',
  /**
   * Record and replay: the recording key (base64), taken out of process.env before the program
   * runs and passed only to the recorded or replayed processes retrace starts.
   */
  recordingKey: 'RETRACE_RECORDING_KEY',
  /** Record: the age file (base64) wrapping the recording key, stored in each trace's key chunk. */
  recordingKeyAge: 'RETRACE_RECORDING_KEY_AGE',
} as const;

/** The package root (the folder holding package.json). */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The file Node preloads (with --require) into every recorded or replayed process. */
export function preloadPath(): string {
  return path.join(packageRoot, 'dist', 'src', 'runtime', 'preload-require.cjs');
}

export function traceFileName(processNumber: number): string {
  return `p${processNumber}.rtrc`;
}

/** Trace files are readable by their owner only, and the folders retrace makes for them too. */
export const RECORDING_FILE_MODE = 0o600;
export const RECORDING_DIR_MODE = 0o700;

export const TRACE_FILE_PATTERN = /^p(\d+)\.rtrc$/;

let version: string | undefined;
export function retraceVersion(): string {
  version ??= (JSON.parse(String(real.readFileSync(path.join(packageRoot, 'package.json'), 'utf8'))) as { version: string }).version;
  return version;
}
