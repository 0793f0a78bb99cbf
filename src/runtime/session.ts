// Starts recording or replaying inside a program's process. Loaded by runtime/preload.ts through
// `--import`, before the program's own modules.
import * as path from 'node:path';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { boundaries } from '../boundary/index.js';
import type { SessionContext } from '../boundary/boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { Recorder } from '../core/recorder.js';
import { Replayer } from '../core/replayer.js';
import { FORMAT_VERSION, type TraceHeader } from '../core/trace/format.js';
import { TraceError, TraceFile } from '../core/trace/reader.js';
import { TraceWriter } from '../core/trace/writer.js';
import { startRedaction, type RedactConfig } from '../redaction/index.js';
import { loadRules } from '../redaction/rules.js';
import { tolerateRedactedKeys, watchRedactedUse } from '../redaction/explain.js';
import { addRecordingKey, deriveChunkKey, newSalt, RECORDING_KEY_BYTES } from '../core/trace/crypto.js';
import { ENV, RECORDING_DIR_MODE, RECORDING_FILE_MODE, preloadPath, retraceVersion, traceFileName } from './paths.js';

/** Exit status when a replay cannot start (missing or unreadable recording). */
export const REPLAY_SETUP_EXIT_CODE = 2;

/** One line on the program's stderr; never throws (stderr may be closed). */
function warn(message: string): void {
  try {
    real.writeSync(2, `retrace: warning: ${message}\n`);
  } catch {
    // nowhere to say it
  }
}

/** The recording settings the CLI passes down, read once and taken out of the program's sight. */
interface RecordSettings {
  maxBytes: number | undefined;
  maxDurationMs: number | undefined;
  /** The recording key and the age file wrapping it (an encrypted recording). */
  key: { age: string; key: Buffer } | undefined;
}

function takeRecordSettings(): RecordSettings {
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const keyB64 = process.env[ENV.recordingKey];
  const age = process.env[ENV.recordingKeyAge];
  // The key must not reach the program, its recorded environment, or a child that is not recorded.
  delete process.env[ENV.recordingKey];
  delete process.env[ENV.recordingKeyAge];
  const key = keyB64 && age ? Buffer.from(keyB64, 'base64') : undefined;
  return {
    maxBytes: num(process.env[ENV.maxBytes]),
    maxDurationMs: num(process.env[ENV.maxDurationMs]),
    key: key && age && key.length === RECORDING_KEY_BYTES ? { age, key } : undefined,
  };
}

export function startRecording(dir: string): void {
  const settings = takeRecordSettings();
  if (process.env[ENV.encrypted] === '1' && settings.key === undefined) {
    // An encrypted recording whose key did not reach this process: never write it in the clear.
    warn(`not recording ${process.argv[1] ?? 'this process'}: the recording is encrypted and its key did not reach this process`);
    return;
  }
  let claimed: { fd: number; number: number };
  try {
    claimed = claimProcessNumber(dir);
  } catch (err) {
    // Recording never harms the program: it runs unrecorded.
    const e = err as NodeJS.ErrnoException;
    warn(`not recording ${process.argv[1] ?? 'this process'}: cannot create its trace in ${dir} (${e.code ?? e.message})`);
    return;
  }
  const { fd, number } = claimed;
  const parent = process.env[ENV.parent];
  const header: TraceHeader = {
    format: FORMAT_VERSION,
    retraceVersion: retraceVersion(),
    nodeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
    process: number,
    parent: parent !== undefined && /^\d+$/.test(parent) ? Number(parent) : null,
    pid: process.pid,
    ppid: process.ppid,
    argv: [...process.argv],
    execArgv: [...process.execArgv],
    execPath: process.execPath,
    cwd: real.processCwd(),
    startTime: real.dateNow(),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    locale: Intl.DateTimeFormat().resolvedOptions().locale,
    redaction: redactionConfig() as Record<string, string[]> | null,
  };
  startRedaction(header.redaction ?? null);
  let stopTimer: ReturnType<typeof setTimeout> | undefined;
  let chunkKey: Buffer | undefined;
  let salt: Buffer | undefined;
  if (settings.key) {
    salt = newSalt();
    chunkKey = deriveChunkKey(settings.key.key, salt);
  }
  const writer = new TraceWriter(fd, header, {
    maxBytes: settings.maxBytes,
    ...(settings.key && chunkKey && salt
      ? { key: { age: settings.key.age, salt: salt.toString('base64') }, sealKey: chunkKey }
      : {}),
    onStop: (reason) => {
      if (stopTimer) real.clearTimeout(stopTimer);
      warn(`recording of process ${number} stopped: ${reason}; the program goes on unrecorded, and the trace ends at the last chunk written`);
    },
  });
  const engine = new Recorder(writer);
  let finished = false;
  const session: SessionContext = {
    header,
    childEnv: () => ({
      [ENV.mode]: 'record',
      [ENV.dir]: dir,
      [ENV.parent]: String(number),
      [ENV.redact]: header.redaction ? JSON.stringify(header.redaction) : 'off',
      NODE_OPTIONS: withPreload(process.env.NODE_OPTIONS),
      ...(settings.maxBytes !== undefined ? { [ENV.maxBytes]: String(settings.maxBytes) } : {}),
      ...(settings.maxDurationMs !== undefined ? { [ENV.maxDurationMs]: String(settings.maxDurationMs) } : {}),
      ...(settings.key ? { [ENV.encrypted]: '1', [ENV.recordingKey]: settings.key.key.toString('base64'), [ENV.recordingKeyAge]: settings.key.age } : {}),
    }),
    finishRecording: ({ exitCode, signal, reason }) => {
      if (finished) return;
      finished = true;
      writer.close({ endTime: real.dateNow(), events: writer.eventCount, exitCode, signal, reason, ...(writer.unencodableCount > 0 ? { unencodable: writer.unencodableCount } : {}) });
    },
  };
  install(engine, session);
  current = engine;
  // Bound the loss on a hard kill: a partly filled chunk is written at least this often.
  real.setInterval(() => writer.flush(), 200).unref();
  if (settings.maxDurationMs !== undefined) {
    stopTimer = real.setTimeout(() => {
      writer.flush();
      writer.stop(`it reached --max-duration (${settings.maxDurationMs} ms)`);
    }, settings.maxDurationMs);
    stopTimer.unref();
  }
}

export function startReplay(traceFile: string): void {
  const keyB64 = process.env[ENV.recordingKey];
  const age = process.env[ENV.recordingKeyAge];
  delete process.env[ENV.recordingKey];
  delete process.env[ENV.recordingKeyAge];
  if (keyB64 && age) addRecordingKey(age, Buffer.from(keyB64, 'base64'));
  let trace: TraceFile;
  try {
    trace = TraceFile.open(traceFile);
  } catch (err) {
    if (err instanceof TraceError) {
      real.writeSync(2, `retrace: ${err.message}\n`);
      real.reallyExit(REPLAY_SETUP_EXIT_CODE);
    }
    throw err;
  }
  const header = trace.header;
  // What the program writes is redacted as the recording was, before it is compared.
  startRedaction(header.redaction ?? null, true);
  const replayRoot = process.env[ENV.replayRoot] ?? real.processCwd();
  const engine = new Replayer(trace, {
    recordedRoot: header.cwd,
    replayRoot,
    stallMs: Number(process.env[ENV.stallMs] ?? 10_000),
  });
  const session: SessionContext = {
    header,
    childEnv: () => ({}),
    finishRecording: () => {},
  };
  // `retrace why`: provenance instrumentation, loaded only when asked for.
  const why = process.env[ENV.why] ? loadProvenance(process.env[ENV.why]!) : null;
  why?.beforeInstall(engine);
  install(engine, session);
  if (header.redaction) {
    watchRedactedUse(process.env);
    tolerateRedactedKeys();
    syncBuiltinESMExports();
  }
  why?.afterInstall(engine);
  current = engine;
  engine.schedulePump();
}

let current: Engine | null = null;
/** The engine of this process once recording or replay started (`retrace print` reads where the replay is). */
export function activeEngine(): Engine | null {
  return current;
}

function install(engine: Engine, session: SessionContext): void {
  for (const b of boundaries) {
    try {
      b.install(engine, session);
    } catch (err) {
      // Never take the program down: say what is not covered and carry on.
      real.writeSync(2, `retrace: warning: the ${b.name} boundary could not be installed (${(err as Error).message}); ${engine.recording ? 'this recording will not replay faithfully' : 'replay may diverge'}\n`);
    }
  }
  // ESM `import { x } from 'node:fs'` bindings follow the patched CommonJS exports only after this.
  syncBuiltinESMExports();
}

function loadProvenance(request: string): import('../provenance/inprocess.js').ProvenanceSession {
  const { startProvenance } = createRequire(import.meta.url)('../provenance/inprocess.js') as typeof import('../provenance/inprocess.js');
  return startProvenance(JSON.parse(request));
}

/**
 * The redaction rules of this recording: from the CLI (which read and checked the project's
 * config), else the project's config found from the working folder. Never stops the program: a
 * config that cannot be read leaves the default rules in force, with a warning.
 */
function redactionConfig(): RedactConfig | null {
  const given = process.env[ENV.redact];
  if (given === 'off') return null;
  if (given) {
    try {
      const parsed = JSON.parse(given) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as RedactConfig;
    } catch {
      // fall through to the project's config
    }
  }
  try {
    return loadRules(real.processCwd()).config;
  } catch (err) {
    real.writeSync(2, `retrace: warning: ${(err as Error).message}; recording with the default redaction rules\n`);
    return {};
  }
}

/**
 * Each recorded process claims the lowest free number; creation is exclusive, so processes never
 * collide. A recording is production data: its files are 0600 and the folders made for it 0700,
 * whatever the umask (the mode given to open and mkdir is only ever narrowed by the umask, and the
 * file's mode is set again in case the folder's ACLs widened it).
 */
function claimProcessNumber(dir: string): { fd: number; number: number } {
  real.mkdirSync(dir, { recursive: true, mode: RECORDING_DIR_MODE });
  for (let n = 0; ; n++) {
    try {
      // Appending: after a failed write is cut back to the last whole chunk, the next write follows it.
      const fd = real.openSync(path.join(dir, traceFileName(n)), 'ax+', RECORDING_FILE_MODE);
      real.fchmodSync(fd, RECORDING_FILE_MODE);
      return { fd, number: n };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** NODE_OPTIONS with our preload, added once. */
export function withPreload(nodeOptions: string | undefined): string {
  const flag = `--require=${JSON.stringify(preloadPath())}`;
  const current = nodeOptions ?? '';
  return current.includes(preloadPath()) ? current : `${flag} ${current}`.trim();
}
