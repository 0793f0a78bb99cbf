// process: the environment, identity and lifetime of the process. Covers process.env, argv,
// execArgv, execPath, pid, ppid, cwd/chdir, memoryUsage, resourceUsage, uptime, uid/gid queries,
// exit, kill, signals and beforeExit delivered to handlers, IPC messages, and how the process ended.
import type { Boundary, SessionContext } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { Shape } from '../core/trace/format.js';
import { redaction } from '../redaction/index.js';
import { disguise, patch, wrapSync } from './wrap.js';

/** Signals whose default action ends the process: recorded so replay ends the same way. */
const TERMINATING = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
/** Events Node emits on `process` from outside JavaScript; each is an entry into the program. */
const EXTERNAL_EVENTS = new Set(['beforeExit', 'message', 'disconnect']);

function isExternalEvent(ev: unknown): ev is string {
  return typeof ev === 'string' && ((ev.length > 3 && ev.startsWith('SIG')) || EXTERNAL_EVENTS.has(ev));
}

interface EndEvent {
  reason: 'exit' | 'signal' | 'uncaught';
  exitCode: number | null;
  signal: string | null;
  /** Record, reason 'uncaught': what Node printed about the exception (its stack), for `retrace show`. */
  error?: string;
}

export const processBoundary: Boundary = {
  name: 'process',
  install(engine: Engine, session: SessionContext) {
    installIdentity(engine, session);
    installEvents(engine, session);
  },
};

function installIdentity(engine: Engine, session: SessionContext): void {
  // The whole environment is an input, read once at start; replay sees the recorded one whatever
  // the replaying machine has. Later changes by the program are its own and need no recording.
  const envCh = engine.channel('process.env', Shape.Value);
  // Recorded with secrets replaced (redaction/env.ts); the program's own environment is untouched.
  const env = engine.value(envCh, () => {
    const live = { ...process.env };
    return redaction()?.env(live) ?? live;
  });
  const header = session.header;
  if (engine.replaying) {
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, env as Record<string, string>);
    // Node resets the time zone when TZ is removed: keep the recorded zone, so local times match.
    process.env.TZ ??= header.timeZone;
  }

  if (engine.replaying) {
    process.argv.splice(0, process.argv.length, ...header.argv);
    process.execArgv.splice(0, process.execArgv.length, ...header.execArgv);
    // Accessors, not values: Node 22 keeps answering the live ppid after a value is defined.
    for (const [key, recorded] of [['execPath', header.execPath], ['pid', header.pid], ['ppid', header.ppid]] as const) {
      let value: unknown = recorded;
      delete (process as unknown as Record<string, unknown>)[key];
      Object.defineProperty(process, key, { get: () => value, set: (v) => (value = v), configurable: true, enumerable: true });
    }
  }

  // cwd changes only through chdir, which the program does itself; the start value is in the header.
  let cwd = header.cwd;
  patch(process, 'cwd', (original) => disguise(function cwdPatched() {
    return engine.replaying ? cwd : original.call(process);
  }, original));
  const chdir = wrapSync(engine, 'process.chdir', process.chdir, ([dir]) => [engine.recordedPath(String(dir))]);
  patch(process, 'chdir', () => disguise(function (dir: string) {
    chdir.call(process, dir);
    if (engine.replaying) cwd = resolveFrom(cwd, dir);
  }, process.chdir));

  const noArgs = () => [];
  patch(process, 'memoryUsage', (original) => {
    const wrapped = wrapSync(engine, 'process.memoryUsage', original, noArgs);
    const rss = wrapSync(engine, 'process.memoryUsage.rss', original.rss, noArgs);
    return Object.assign(wrapped, { rss }) as typeof original;
  });
  patch(process, 'resourceUsage', (o) => wrapSync(engine, 'process.resourceUsage', o, noArgs) as typeof o);
  patch(process, 'cpuUsage', (o) => wrapSync(engine, 'process.cpuUsage', o, ([prev]) => [prev]) as typeof o);
  patch(process, 'uptime', (o) => wrapSync(engine, 'process.uptime', o, noArgs) as typeof o);
  for (const name of ['getuid', 'geteuid', 'getgid', 'getegid', 'getgroups', 'umask'] as const) {
    if (typeof process[name] === 'function') {
      patch(process, name, (o) => wrapSync(engine, `process.${name}`, o as never, (args) => args) as never);
    }
  }
  patch(process, 'kill', (o) => wrapSync(engine, 'process.kill', o, ([pid, sig]) => [pid, sig ?? 'SIGTERM']) as typeof o);
}

function resolveFrom(base: string, dir: string): string {
  return dir.startsWith('/') ? dir : `${base.replace(/\/$/, '')}/${dir}`.replace(/\/\.(?=\/|$)/g, '');
}

function installEvents(engine: Engine, session: SessionContext): void {
  const eventCh = engine.channel('process.event', Shape.Value);
  const endCh = engine.channel('process.end', Shape.Value);
  const exitingCh = engine.channel('process.exiting', Shape.Value);
  const exitCh = engine.channel('process.exit', Shape.Call);
  const sendCh = engine.channel('process.send', Shape.Call);
  const emit = real.processEmit;
  let pumpDelivering = false;
  let uncaught = false;
  let uncaughtError: string | undefined;

  // Node reaches JavaScript for signals, beforeExit and IPC through process.emit (the signal
  // watcher binds process.emit when the first listener is added, after this patch).
  process.emit = disguise(function emitPatched(this: unknown, ev: string | symbol, ...args: unknown[]): boolean {
    if (engine.recording) {
      if (ev === 'exit') {
        const code = typeof args[0] === 'number' ? args[0] : Number(process.exitCode ?? 0);
        // Marks where exiting began, so replay knows when to exit a program that ran out of work.
        engine.value(exitingCh, () => code);
        const result = emit(ev, ...args);
        // Exit listeners ran above, so what they did is recorded before the end.
        const end: EndEvent = { reason: uncaught ? 'uncaught' : 'exit', exitCode: code, signal: null };
        if (uncaught && uncaughtError !== undefined) end.error = uncaughtError;
        engine.value(endCh, () => end);
        session.finishRecording({ exitCode: code, signal: null, reason: 'exit' });
        return result;
      }
      if (isExternalEvent(ev) && !engine.passthrough) engine.value(eventCh, () => [ev, ...args]);
      return emit(ev, ...args);
    }
    if (ev === 'beforeExit' && !pumpDelivering && engine.replaying && engine.loopEmptied()) return true;
    if (isExternalEvent(ev) && !pumpDelivering) {
      // The program emitting one of these itself: it did so in the recording too.
      engine.value(eventCh, () => [ev, ...args]);
    }
    if (ev === 'exit' && engine.replaying) {
      const next = engine.peek();
      if (next?.kind === 'value' && next.channel.name === 'process.exiting') engine.value(exitingCh, () => 0);
      const result = emit(ev, ...args);
      engine.checkEnd(typeof args[0] === 'number' ? args[0] : Number(process.exitCode ?? 0));
      return result;
    }
    return emit(ev, ...args);
  }, process.emit) as typeof process.emit;

  // The monitor sees every uncaught exception; only one no handler deals with ends the process.
  process.on('uncaughtExceptionMonitor', (err: unknown) => {
    if (process.listenerCount('uncaughtException') === 0) {
      uncaught = true;
      if (engine.recording) uncaughtError = describeThrown(err);
    } else engine.noteHandledThrow();
  });

  if (engine.replaying) {
    engine.onUnsolicited(eventCh, (payload) => {
      const [ev, ...args] = payload as [string, ...unknown[]];
      pumpDelivering = true;
      try {
        emit(ev, ...args);
      } finally {
        pumpDelivering = false;
      }
    }, (payload) => Array.isArray(payload) && payload[0] === 'beforeExit');
    // The recorded process ran out of work here and exited: exit the same way, running the exit
    // listeners, whose calls come next in the recording.
    engine.onUnsolicited(exitingCh, (code) => exitOnceOutputIsWritten(engine, code as number));
    engine.onUnsolicited(endCh, (payload) => {
      const end = payload as EndEvent;
      if (end.reason === 'uncaught') {
        engine.diverge('the recorded process ended with an uncaught exception here, but the replay did not throw it');
      }
      if (end.reason === 'signal' && end.signal) {
        engine.unobserved(() => {
          for (const sig of TERMINATING) process.removeAllListeners(sig);
          real.processKill(real.pid, end.signal as NodeJS.Signals);
        });
        return;
      }
      // The recorded process ran out of work and exited: exit listeners run as they did.
      exitOnceOutputIsWritten(engine, end.exitCode ?? 0);
    });
  }

  // process.exit is a call the program makes: checked in replay, then performed for real.
  const exit = process.exit;
  process.exit = disguise(function exitPatched(code?: number | string | null) {
    if (!engine.passthrough) engine.call(exitCh, [code ?? null], () => undefined);
    return exit.call(process, code as number);
  }, exit) as typeof process.exit;

  // A forked child's IPC channel: in replay there is none, so sending is answered from the recording.
  const hadIpc = engine.value(engine.channel('process.ipc', Shape.Value), () => typeof process.send === 'function');
  if (hadIpc) {
    const send = process.send;
    process.send = disguise(function sendPatched(message: unknown, ...rest: unknown[]) {
      const cb = typeof rest[rest.length - 1] === 'function' ? (rest.pop() as (err: Error | null) => void) : undefined;
      const ok = engine.call(sendCh, [message], () => send!.call(process, message as never, ...(rest as []), cb as never));
      if (engine.replaying && cb) queueMicrotask(() => cb(null));
      return ok;
    }, (send ?? function send() {}) as never) as typeof process.send;
    if (engine.replaying) {
      Object.defineProperty(process, 'connected', { value: true, writable: true, configurable: true });
      process.disconnect = () => {
        (process as { connected: boolean }).connected = false;
      };
    }
  }

  // Terminating signals with no handler of the program's: record the death, then die as Node would.
  for (const sig of TERMINATING) {
    if (process.platform !== 'win32' || sig === 'SIGINT' || sig === 'SIGBREAK') {
      process.on(sig, function retraceSignalDefault() {
        if (process.listenerCount(sig) > 1 || engine.replaying) return;
        engine.value(endCh, (): EndEvent => ({ reason: 'signal', exitCode: null, signal: sig }));
        session.finishRecording({ exitCode: null, signal: sig, reason: 'signal' });
        process.removeListener(sig, retraceSignalDefault);
        real.processKill(real.pid, sig);
      });
    }
  }
}

/**
 * Ends a replayed process that ran out of work in the recording. The recorded process exited
 * naturally, and a natural exit waits for stdout and stderr writes still queued (a pipe whose
 * reader is slower than the program); process.exit() would drop them. So the sequencer stops (the
 * exit listeners' crossings, next in the recording, are matched as they are made) and the exit
 * waits until the program's output is written.
 */
function exitOnceOutputIsWritten(engine: Engine, code: number): void {
  engine.finish();
  const waiting = [process.stdout, process.stderr].filter((s) => s.writableLength > 0 && !s.destroyed);
  let left = waiting.length;
  if (left === 0) return void real.processExit(code);
  for (const stream of waiting) {
    let done = false;
    const written = (): void => {
      if (done) return;
      done = true;
      if (--left === 0) real.processExit(code);
    };
    stream.once('drain', written);
    stream.once('error', written);
    stream.once('close', written);
  }
}

/** A thrown value as Node reports it: an error's stack, or the value itself. Never throws. */
function describeThrown(err: unknown): string {
  try {
    if (err instanceof Error) return String(err.stack ?? `${err.name}: ${err.message}`);
    return `Uncaught ${typeof err === 'string' ? JSON.stringify(err) : String(err)}`;
  } catch {
    return 'Uncaught exception (it could not be described)';
  }
}
