// The debugger thread of `retrace print`: a worker connected to the program thread's V8 inspector
// (inspector.Session#connectToMainThread). It sets the breakpoints, and at each pause evaluates the
// expression in the paused frame with V8's side-effect check on (an expression that would change
// the program is refused rather than run), writes a report line, and resumes. Compiled code is
// stopped in through the source maps on disk, resolved before the program started (location.ts).
// A pause counts only on the line asked for: V8 moves a breakpoint it cannot place (a line with no
// statement, a function it has not compiled) to a later line, which is not where the user asked.
import * as fs from 'node:fs';
import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';
import { PRINT_FD, PrintSlot, type LocalVariable, type PrintReport, type PrintRequest } from './print-protocol.js';

interface RemoteObject {
  type: string;
  subtype?: string;
  className?: string;
  value?: unknown;
  unserializableValue?: string;
  description?: string;
  preview?: ObjectPreview;
}

interface ObjectPreview {
  type: string;
  subtype?: string;
  description?: string;
  overflow: boolean;
  properties: { name: string; type: string; value?: string; subtype?: string }[];
  entries?: { key?: ObjectPreview; value: ObjectPreview }[];
}

const { request, shared } = workerData as { request: PrintRequest; shared: Int32Array };
const { plan, expr } = request;
const session = new Session();
session.connectToMainThread();

function post<T = Record<string, unknown>>(method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T))));
}

function report(r: PrintReport): void {
  fs.writeSync(PRINT_FD, `${JSON.stringify(r)}\n`);
}

const ours = new Set<string>();
/** The script lines (from 0) the breakpoints were set on. */
const lines = new Set(plan.byUrl.map((b) => b.line));
let hits = 0;
let done = false;
let movedReported = false;

interface Paused {
  reason: string;
  hitBreakpoints?: string[];
  callFrames: { callFrameId: string; url: string; location: { lineNumber: number; columnNumber: number }; scopeChain: { type: string; object: RemoteObject & { objectId?: string } }[] }[];
}

/** Whether hit `n` is one to evaluate. */
function wanted(n: number): boolean {
  if (request.hit !== null) return n === request.hit;
  if (request.range) return n >= request.range.first && n <= request.range.last;
  return true;
}

/** Scopes whose variables are the program's own (the global object is not). */
const LOCAL_SCOPES = new Set(['local', 'block', 'closure', 'catch', 'module', 'script']);
/** At most this many variables per scope are reported. */
const MAX_LOCALS = 100;

async function localsOf(frame: Paused['callFrames'][number]): Promise<LocalVariable[]> {
  const out: LocalVariable[] = [];
  for (const scope of frame.scopeChain) {
    if (!LOCAL_SCOPES.has(scope.type) || !scope.object.objectId) continue;
    const r = await post<{ result: { name: string; value?: RemoteObject }[] }>('Runtime.getProperties', { objectId: scope.object.objectId, ownProperties: true, generatePreview: true });
    for (const p of r.result.slice(0, MAX_LOCALS)) {
      if (!p.value) continue;
      out.push({ scope: scope.type, name: p.name, value: formatRemote(p.value), type: p.value.subtype ?? p.value.type });
    }
  }
  return out;
}

session.on('Debugger.paused', (message) => {
  void onPause(message.params as Paused).finally(() => session.post('Debugger.resume'));
});

async function onPause(p: Paused): Promise<void> {
  if (done || !p.hitBreakpoints?.some((id) => ours.has(id))) return;
  const frame = p.callFrames[0]!;
  if (!lines.has(frame.location.lineNumber)) {
    if (!movedReported) {
      movedReported = true;
      report({ type: 'moved', line: frame.location.lineNumber + 1, script: frame.url });
    }
    return;
  }
  hits++;
  const event = Atomics.load(shared, PrintSlot.Event);
  const at = `${frame.url}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1}`;
  if (!wanted(hits)) {
    report({ type: 'hit', hit: hits, event, at, skipped: true });
    if (request.stopAfter !== null && hits >= request.stopAfter) await stop();
    return;
  }
  let locals: LocalVariable[] | undefined;
  if (request.locals) {
    try {
      locals = await localsOf(frame);
    } catch {
      locals = [];
    }
  }
  if (expr === null) {
    report({ type: 'hit', hit: hits, event, at, ...(locals ? { locals } : {}) });
    if (request.stopAfter !== null && hits >= request.stopAfter) await stop();
    return;
  }
  try {
    const r = await post<{ result: RemoteObject; exceptionDetails?: { text: string; exception?: RemoteObject } }>('Debugger.evaluateOnCallFrame', {
      callFrameId: frame.callFrameId,
      // In parentheses, so that `{ a, b }` is an object and not a block.
      expression: `(${expr}\n)`,
      throwOnSideEffect: true,
      generatePreview: true,
      silent: true,
    });
    if (r.exceptionDetails) report({ type: 'hit', hit: hits, event, at, error: exceptionText(r.exceptionDetails), ...(locals ? { locals } : {}) });
    else report({ type: 'hit', hit: hits, event, at, value: formatRemote(r.result), valueType: r.result.subtype ?? r.result.type, ...(locals ? { locals } : {}) });
  } catch (err) {
    report({ type: 'hit', hit: hits, event, at, error: (err as Error).message, ...(locals ? { locals } : {}) });
  }
  if (request.stopAfter !== null && hits >= request.stopAfter) await stop();
}

/** The hits asked for are reported: no more pauses while the CLI ends the replay. */
async function stop(): Promise<void> {
  done = true;
  for (const id of ours) await post('Debugger.removeBreakpoint', { breakpointId: id }).catch(() => {});
}

function exceptionText(details: { text: string; exception?: RemoteObject }): string {
  const e = details.exception;
  const text = e?.description ?? (e?.value !== undefined ? `Uncaught ${JSON.stringify(e.value)}` : details.text);
  if (/side-effect/i.test(text) && e?.className === 'EvalError') {
    return 'not run: the expression could change the program (V8 found a possible side effect); print evaluates side-effect-free expressions only';
  }
  return text.split('\n')[0]!;
}

/** A value in one line, as the inspector previews it: numbers, quoted strings, arrays, objects, maps. */
export function formatRemote(o: RemoteObject): string {
  switch (o.type) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return JSON.stringify(o.value);
    case 'number':
      return o.unserializableValue ?? o.description ?? String(o.value);
    case 'bigint':
      return o.unserializableValue ?? o.description ?? String(o.value);
    case 'boolean':
      return String(o.value);
    case 'symbol':
      return o.description ?? 'Symbol()';
    case 'function':
      return `[Function ${/^(?:async\s+)?function\s*\*?\s*([\w$]*)/.exec(o.description ?? '')?.[1] || '(anonymous)'}]`;
  }
  if (o.subtype === 'null') return 'null';
  if (o.preview) return formatPreview(o.preview, o.className);
  return o.description ?? o.className ?? 'object';
}

function formatPreview(p: ObjectPreview, className?: string): string {
  const more = p.overflow ? ', …' : '';
  const value = (v: { type: string; value?: string; subtype?: string }) => (v.type === 'string' ? JSON.stringify(v.value ?? '') : v.subtype === 'null' ? 'null' : v.value ?? v.type);
  const entryValue = (e: ObjectPreview) => (e.type === 'string' ? JSON.stringify(e.description ?? '') : e.properties.length ? formatPreview(e) : e.description ?? e.type);
  switch (p.subtype) {
    case 'array':
    case 'typedarray':
      return `${p.subtype === 'typedarray' ? `${p.description ?? ''} ` : ''}[${p.properties.filter((x) => /^\d+$/.test(x.name)).map(value).join(', ')}${more}]`;
    case 'map':
      return `${p.description ?? 'Map'} {${(p.entries ?? []).map((e) => `${e.key ? entryValue(e.key) : '?'} => ${entryValue(e.value)}`).join(', ')}${more}}`;
    case 'set':
      return `${p.description ?? 'Set'} {${(p.entries ?? []).map((e) => entryValue(e.value)).join(', ')}${more}}`;
    case 'date':
    case 'regexp':
    case 'error':
      return (p.description ?? '').split('\n')[0]!;
  }
  const name = className ?? p.description ?? 'Object';
  const body = `{${p.properties.map((x) => `${/^[A-Za-z_$][\w$]*$/.test(x.name) ? x.name : JSON.stringify(x.name)}: ${value(x)}`).join(', ')}${more}}`;
  return name === 'Object' ? body : `${name} ${body}`;
}

async function start(): Promise<void> {
  await post('Debugger.enable');
  for (const bp of plan.byUrl) {
    const r = await post<{ breakpointId: string; locations: { lineNumber: number }[] }>('Debugger.setBreakpointByUrl', { urlRegex: bp.urlRegex, lineNumber: bp.line, columnNumber: bp.column });
    ours.add(r.breakpointId);
  }
}

// Inspector replies do not keep a thread's event loop alive: this does, for as long as the program
// runs (the program's thread does not wait for this one: print-hook.ts unrefs it).
setInterval(() => {}, 1 << 30);

start().then(
  () => Atomics.store(shared, PrintSlot.State, 1),
  (err: Error) => {
    report({ type: 'error', message: `the debugger could not be set up: ${err.message}` });
    Atomics.store(shared, PrintSlot.State, 2);
  },
);
