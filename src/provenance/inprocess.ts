// Provenance replay inside the program's process: installs the shadow runtime, instruments the
// program's own modules as they load (ES modules through a load hook, CommonJS through the loader's
// compile step), hears every recorded value the replayer hands over, and writes the answer for
// `retrace why` when the probe's hit comes (or at exit, for the last hit).
import { AsyncLocalStorage } from 'node:async_hooks';
import Module, { SourceMap } from 'node:module';
import * as path from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { real } from '../core/originals.js';
import type { Engine } from '../core/engine.js';
import { onReplayEvent } from '../core/diagnostics.js';
import { display, F_IMPRECISE, showValue } from './arena.js';
import { instrument, type ProbeTarget } from './instrument.js';
import { ProvenanceRuntime, type Place, type Snapshot } from './runtime.js';
import { buildTree, type LineageNode } from './tree.js';
import type { WhyResult } from './format.js';

export interface WhyRequest {
  file: string; // absolute path of the source the user named
  line: number;
  column?: number;
  expr: string;
  hit: number | 'last';
  out: string; // where to write the answer (JSON)
  maxNodes: number;
  root: string; // paths are shown relative to this
  /** RETRACE_WHY_DEBUG: say what is instrumented (the program's environment is the recorded one, so it is passed here). */
  debug?: boolean;
  /**
   * 'locate': place only the probe and find the hit and the connection it ran in (cheap: the
   * program runs as written). 'trace': instrument and answer.
   */
  mode: 'locate' | 'trace';
  /**
   * trace: make lineage only where the hit ran (its request, the connection-level code of its
   * connection) and in code outside every connection; null: everywhere.
   */
  scope: { place: Place | null } | null;
  /** --control: conditions become part of the lineage of what they decide. */
  control?: boolean;
  /** After the asked hit, run on to count every hit of the line (false: a pass before this one counted them). */
  countHits?: boolean;
}

/** Where the hit is, found by a 'locate' replay. */
export interface Located {
  hit: number;
  hits: number;
  /** The connection and request the hit ran in, or null when it ran outside every connection. */
  place: Place | null;
  /** Connections the program's servers had accepted, and HTTP requests they had received, by the hit. */
  connections: number;
  requests: number;
}

/** What the replayed process answers: the result `why` prints, and how it was reached. */
export interface WhyAnswer extends WhyResult {
  error?: string;
  /** nodes: lineage nodes made; fields: labelled fields of live objects when the answer was written. */
  stats: { nodes: number; arenaBytes: number; heapBytes: number; fields?: number };
  /** locate mode: where the hit is. */
  located?: Located;
  /** trace mode, scoped: where lineage was made, how many connections and requests there were, whether the lineage reached outside. */
  scoped?: { place: Place | null; connections: number; requests: number; outside: boolean };
}

type Load = (url: string, context: unknown, next: (url: string, context?: unknown) => { source?: string | ArrayBufferView | null; format?: string; shortCircuit?: boolean }) => unknown;

export interface ProvenanceSession {
  runtime: ProvenanceRuntime;
  /** Before the boundary modules install: CommonJS compile interception must sit under theirs; inputs are heard from the replayer from its first event. */
  beforeInstall(engine: Engine): void;
  /** After: the ES module load hook must run before theirs sees the source; inputs are heard from the replayer. */
  afterInstall(engine: Engine): void;
}

export function startProvenance(request: WhyRequest): ProvenanceSession {
  let written = false;
  const connections = new ConnectionTracker();
  const locating = request.mode === 'locate';
  const runtime: ProvenanceRuntime = new ProvenanceRuntime(request.maxNodes, {
    hit: request.hit,
    onHit(snapshot, final) {
      if (final && request.countHits === false) {
        finish(snapshot);
        real.reallyExit(0);
      } else if (final) {
        // The answer is made now; the replay goes on without making lineage, only to count the
        // hits after it ("hit 3 of 6"), and the answer's count is updated at exit.
        finish(snapshot);
        runtime.inScope = () => false;
        runtime.arena.tracking = false;
      }
    },
    place: () => connections.current(),
  });
  (globalThis as any).__retraceProvenance = runtime;
  runtime.controlFlow = !!request.control;
  const scope = request.scope;
  if (!locating && scope) {
    // Code outside every connection (setup, the program's own timers) is traced too, and so is the
    // connection-level code of the hit's connection (its socket's events: body parsers run there).
    const target = scope.place;
    runtime.inScope = () => {
      const p = connections.current();
      if (p === null) return true;
      if (target === null || p.connection !== target.connection) return false;
      return p.request === null || target.request === null || p.request === target.request;
    };
  }
  const target = path.resolve(request.file);
  let probesPlaced = 0;
  let probeColumn: number | undefined;
  let probeProblem: string | undefined;

  const relative = (file: string) => {
    const rel = path.relative(request.root, file);
    return rel.startsWith('..') ? file : rel;
  };

  // Libraries whose code values flow through (validators, query builders, helpers) are instrumented
  // like the program's own, so that their copies and computations keep lineage (docs/provenance.md).
  const traced = tracedLibraries();
  // zod compiles object schemas into generated code (new Function), which is not instrumented; its
  // documented jitless mode runs the same checks in its own (instrumented) code instead.
  if (!locating && traced.has('zod')) {
    const g = globalThis as { __zod_globalConfig?: { jitless?: boolean } };
    (g.__zod_globalConfig ??= {}).jitless ??= true;
  }
  const isUserFile = (file: string) => {
    if (file.startsWith(ownRoot)) return false;
    const marker = `${path.sep}node_modules${path.sep}`;
    const at = file.lastIndexOf(marker);
    if (at < 0) return true;
    const rest = file.slice(at + marker.length).split(path.sep);
    const name = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    if (name === undefined) return false;
    // a package, or one file of it ('express/lib/request.js': its lazy req.query)
    return traced.has(name) || traced.has(`${name}/${rest.slice(name.startsWith('@') ? 2 : 1).join('/')}`);
  };

  const transform = (file: string, source: string, sourceType: 'module' | 'script'): string => {
    const mapPosition = positionMapper(source, file);
    // compiled code is shown by its original source (a .ts file), as the user knows it
    const fileId = runtime.file(relative(mapPosition.sourceFile ?? file));
    const probe: ProbeTarget | undefined = samePath(file, target) || (mapPosition.sourceFile && samePath(mapPosition.sourceFile, target))
      ? { line: request.line, column: request.column, expr: request.expr }
      : undefined;
    if (locating && !probe) return source;
    const result = instrument(source, {
      sourceType,
      probe,
      probeOnly: locating,
      control: request.control,
      mapPosition: mapPosition.map,
      site: (s) => runtime.site(fileId, s.line, s.column, s.op, s.generator),
      literal: (s, value) => runtime.literalLabel(fileId, s.line, s.column, value),
    });
    if (request.debug) real.writeSync(2, `retrace-why: instrumented ${file}${mapPosition.sourceFile ? ` (source ${mapPosition.sourceFile})` : ''}${probe ? `, ${result.probes} probe(s)` : ''}\n`);
    if (probe) {
      probesPlaced += result.probes;
      if (result.probeColumn !== undefined) probeColumn = result.probeColumn;
      if (result.probeError) probeProblem = result.probeError;
      else if (result.probes === 0) probeProblem = `${relative(target)}:${request.line} has no statement to stop at`;
      if (probeProblem) {
        finish(null);
        real.reallyExit(0);
      }
    }
    return result.code;
  };

  const instrumentSafely = (file: string, source: string, sourceType: 'module' | 'script'): string => {
    try {
      return transform(file, source, sourceType);
    } catch (err) {
      if (request.debug) real.writeSync(2, `retrace-why: ${file} not instrumented: ${(err as Error).stack}\n`);
      runtime.notes.add(`${relative(file)} was not instrumented (${(err as Error).message}); values passing through it have no lineage`);
      return source;
    }
  };

  function finish(snapshot: Snapshot | null): void {
    if (written) return;
    written = true;
    const notes = new Set<string>();
    let lineage: LineageNode | null = null;
    let error: string | undefined = probeProblem;
    if (!error && !snapshot) error = runtime.hits === 0 ? `${relative(target)}:${request.line} never ran in this recording` : `hit ${request.hit} of ${relative(target)}:${request.line} never came: it ran ${runtime.hits} time${runtime.hits === 1 ? '' : 's'}`;
    if (!error && snapshot?.error) error = `${request.expr} could not be evaluated at ${relative(target)}:${request.line}: ${snapshot.error}`;
    if (locating) {
      writeAnswer({ at: relative(target), expr: request.expr, hit: snapshot?.hit ?? 0, hits: runtime.hits, value: '', complete: true, notes: [], lineage: null, error,
        stats: { nodes: 0, arenaBytes: 0, heapBytes: getHeapStatistics().used_heap_size },
        located: error || !snapshot ? undefined : { hit: snapshot.hit, hits: runtime.hits, place: snapshot.place, connections: connections.connections, requests: connections.requests } });
      return;
    }
    if (!error && snapshot) lineage = buildTree(runtime, snapshot.label, snapshot.value, { maxNodes: 600, maxDepth: 60 }, notes);
    const messages = [...runtime.notes];
    let complete = true;
    if (runtime.arena.summarizing) {
      complete = false;
      messages.push(`the lineage memory cap (${request.maxNodes} nodes) was reached; later operations are summarized per source location, so the lineage shows every origin that contributed there but not which iteration produced which value`);
    }
    if (runtime.budget.full) {
      complete = false;
      messages.push(`the cap on labelled fields of live objects (${request.maxNodes}) was reached; fields first written after that keep no label of their own: reading one gives its object's lineage where there is one, else none`);
    }
    if (snapshot) {
      // complete means every leaf is exact: an origin marked imprecise (a long text matched only by
      // its start, rows reached without the query that chose them) makes the answer incomplete
      let inexact = 0;
      runtime.arena.walk(snapshot.label, (id) => {
        if (runtime.arena.origins.has(id) && runtime.arena.flags[id]! & F_IMPRECISE) inexact++;
        return true;
      }, 100_000);
      if (inexact) {
        complete = false;
        messages.push(`${inexact} origin${inexact === 1 ? ' is' : 's are'} not exact (marked imprecise in the lineage)`);
      }
    }
    if (runtime.arena.summaryDropped) messages.push('some summarized operations had more inputs than are kept; the lineage may miss some of their origins');
    if (notes.has('budget')) messages.push('the tree is cut at 600 nodes; shared parts of the lineage are shown once per path until then');
    if (notes.has('depth')) messages.push('the tree is drawn to depth 60; below that, the origins reached are listed without the operations between');
    const answer: WhyAnswer = {
      at: `${relative(target)}:${request.line}:${request.column ?? probeColumn ?? 1}`,
      expr: request.expr,
      hit: snapshot?.hit ?? 0,
      hits: runtime.hits,
      value: snapshot ? showValue(display(snapshot.value)) : '',
      complete,
      notes: messages,
      lineage,
      error,
      stats: { nodes: runtime.arena.size, arenaBytes: runtime.arena.bytes, heapBytes: getHeapStatistics().used_heap_size, fields: runtime.budget.live },
      scoped: scope && snapshot ? { place: scope.place, connections: connections.connections, requests: connections.requests, outside: runtime.arena.reachesOutside(snapshot.label) } : undefined,
    };
    writeAnswer(answer);
  }

  let lastAnswer: WhyAnswer | null = null;
  function writeAnswer(answer: WhyAnswer): void {
    lastAnswer = answer;
    const fd = real.openSync(request.out, 'w');
    real.writeSync(fd, JSON.stringify(answer));
    real.closeSync(fd);
  }

  process.on('exit', () => {
    if (!written) finish(runtime.lastSnapshot);
    else if (lastAnswer && !lastAnswer.error && lastAnswer.hits !== runtime.hits) {
      lastAnswer.hits = runtime.hits;
      if (lastAnswer.located) lastAnswer.located.hits = runtime.hits;
      writeAnswer(lastAnswer);
    }
  });

  // JSON.parse called by code we do not instrument (a framework's body parser) still labels its
  // result with the lineage of its text, found among the recorded inputs.
  const realParse = JSON.parse;
  if (!locating) JSON.parse = function parse(text: string, reviver?: (this: any, key: string, value: any) => any) {
    const result = realParse(text, reviver);
    if (result && typeof result === 'object' && !runtime.userCallingJsonParse()) runtime.labelJson(result, 0, text);
    return result;
  } as typeof JSON.parse;

  return {
    runtime,
    beforeInstall() {
      if (!locating) hearInputs(runtime);
      const proto = (Module as unknown as { prototype: { _compile(content: string, filename: string, ...rest: unknown[]): unknown } }).prototype;
      const compile = proto._compile;
      proto._compile = function (this: unknown, content: string, filename: string, ...rest: unknown[]) {
        if (typeof content !== 'string' || !isUserFile(filename) || !/\.[cm]?[jt]s$/.test(filename)) return compile.call(this, content, filename, ...rest);
        let source = content;
        if (/\.[cm]?ts$/.test(filename)) {
          // Node strips the types inside _compile (format commonjs-typescript): strip them first, keeping positions
          try {
            source = stripTypes(content);
            if (rest[0] === 'commonjs-typescript') rest[0] = 'commonjs';
          } catch {
            // already JavaScript (tsx compiled it)
          }
        }
        return compile.call(this, instrumentSafely(filename, source, 'script'), filename, ...rest);
      };
    },
    afterInstall() {
      connections.install();
      const registerHooks = (Module as unknown as { registerHooks?: (hooks: { load: Load }) => unknown }).registerHooks;
      if (!registerHooks) {
        runtime.notes.add('this Node.js has no module.registerHooks: ES modules are not instrumented');
        return;
      }
      registerHooks({
        load(url, context, nextLoad) {
          const result = nextLoad(url, context);
          if (!url.startsWith('file:')) return result;
          const file = fileURLToPath(url);
          if (!isUserFile(file)) return result;
          const format = result.format;
          if (format !== 'module' && format !== 'module-typescript') return result;
          let source = typeof result.source === 'string' ? result.source : result.source ? Buffer.from(result.source.buffer, result.source.byteOffset, result.source.byteLength).toString('utf8') : null;
          if (source === null) return result;
          if (format === 'module-typescript') source = stripTypes(source);
          return { ...result, format: 'module', source: instrumentSafely(file, source, 'module') };
        },
      });
    },
  };
}

/**
 * Every recorded event the replay consumes is published on a diagnostics channel: values and call
 * results the program is about to receive, requests (whose channel names their later deliveries),
 * and deliveries (socket bytes, callback payloads). The runtime labels them as inputs there.
 */
function hearInputs(runtime: ProvenanceRuntime): void {
  const requestChannels = new Map<number, string>();
  onReplayEvent((ev) => {
    try {
      switch (ev.kind) {
        case 'value':
          runtime.observeInput(ev.channel.name, ev.index, ev.value, undefined, undefined, undefined);
          break;
        case 'call':
          if (!ev.threw) runtime.observeInput(ev.channel.name, ev.index, ev.result, undefined, undefined, ev.args);
          break;
        case 'request':
          requestChannels.set(ev.reqId, ev.channel.name);
          runtime.noteRequest(ev.channel.name, ev.reqId, ev.args);
          break;
        case 'deliver':
          runtime.observeInput('deliver', ev.index, ev.payload, ev.reqId, requestChannels.get(ev.reqId), undefined);
          break;
      }
    } catch (err) {
      runtime.notes.add(`an input could not be labelled (${(err as Error).message})`);
    }
  });
}

/**
 * The connections the program's servers accept (net, http, https, tls) and the HTTP requests they
 * receive, numbered in the order they come, which replay reproduces. Everything a connection's
 * socket emits (its data, hence the parsing of every request on it) runs in an async context that
 * names the connection; a request's handler runs in one that also names the request; and what
 * they schedule (awaits, timers, callbacks) keeps it. Code in no connection's context is the
 * program's own: its setup, its timers.
 */
class ConnectionTracker {
  private readonly context = new AsyncLocalStorage<Place>();
  private readonly places = new WeakMap<object, Place>();
  connections = 0;
  requests = 0;

  current(): Place | null {
    return this.context.getStore() ?? null;
  }

  install(): void {
    const net = process.getBuiltinModule('node:net');
    const { context, places } = this;
    const tracker = this;
    type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;
    const serverEmit = net.Server.prototype.emit as Emit;
    net.Server.prototype.emit = function emit(this: unknown, event: string | symbol, ...args: unknown[]) {
      const first = args[0];
      if ((event === 'connection' || event === 'secureConnection') && first && typeof first === 'object') {
        // a TLS socket is announced inside its TCP socket's context: it is the same connection
        const place = places.get(first) ?? context.getStore() ?? { connection: ++tracker.connections, request: null };
        places.set(first, place);
        return context.run(place, () => serverEmit.call(this, event, ...args));
      }
      if (event === 'request' && first && typeof first === 'object') {
        // http and https servers (http2 is refused by replay)
        const socket = (first as { socket?: object }).socket;
        const outer = (socket && places.get(socket)) ?? context.getStore();
        const place = { connection: outer?.connection ?? ++tracker.connections, request: ++tracker.requests };
        return context.run(place, () => serverEmit.call(this, event, ...args));
      }
      return serverEmit.call(this, event, ...args);
    } as never;
    const socketEmit = net.Socket.prototype.emit as Emit;
    net.Socket.prototype.emit = function emit(this: object, event: string | symbol, ...args: unknown[]) {
      const place = places.get(this);
      if (place === undefined || context.getStore() === place) return socketEmit.call(this, event, ...args);
      return context.run(place, () => socketEmit.call(this, event, ...args));
    } as never;
  }
}

/** retrace's own compiled code (dist/src): never instrumented. The project's examples are programs like any other. */
/**
 * Packages instrumented with the program: those values are copied and computed through rather than
 * merely passed (measured on test/provenance-conformance-cases.ts; BENCHMARKS.md). Others are
 * crossed through the built-in models, by value, or by content.
 */
export const TRACED_LIBRARIES = ['zod', 'lodash', 'lodash-es', 'knex', 'joi', 'yup', 'valibot', 'superstruct', 'qs', 'parseurl', 'express/lib/request.js'];

function tracedLibraries(): Set<string> {
  const asked = process.env.RETRACE_WHY_LIBRARIES;
  if (asked === undefined) return new Set(TRACED_LIBRARIES);
  return new Set(asked.split(',').map((s) => s.trim()).filter((s) => s && s !== 'none'));
}

const ownRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..') + path.sep;

function samePath(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return real.realpathSync(a) === real.realpathSync(b);
  } catch {
    return false;
  }
}

/** TypeScript to JavaScript with positions kept (type stripping), or transformed with a source map for enums and the like. */
export function stripTypes(source: string): string {
  const strip = (Module as unknown as { stripTypeScriptTypes?: (code: string, options?: object) => string }).stripTypeScriptTypes;
  if (!strip) throw new Error('this Node.js cannot strip TypeScript types');
  // quietly: the program's stderr is the recorded program's, not ours
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return strip(source, { mode: 'strip' });
  } catch {
    return strip(source, { mode: 'transform', sourceMap: true });
  } finally {
    process.emitWarning = emitWarning;
  }
}

const MAPPING_URL = /\/\/[#@] sourceMappingURL=(\S+)\s*$/;

/** Positions of generated code back in the original source, through its source map (tsc, tsx, transformed TypeScript). */
function positionMapper(source: string, file: string): { map?: (line: number, column: number) => { line: number; column: number }; sourceFile?: string } {
  const m = MAPPING_URL.exec(source.slice(-200_000));
  if (!m) return {};
  try {
    const url = m[1]!;
    let text: string;
    let base = path.dirname(file);
    if (url.startsWith('data:')) {
      const comma = url.indexOf(',');
      text = url.slice(0, comma).endsWith(';base64') ? Buffer.from(url.slice(comma + 1), 'base64').toString('utf8') : decodeURIComponent(url.slice(comma + 1));
    } else {
      const mapFile = url.startsWith('file:') ? fileURLToPath(url) : path.resolve(base, url);
      text = String(real.readFileSync(mapFile, 'utf8'));
      base = path.dirname(mapFile);
    }
    const payload = JSON.parse(text) as { sources?: string[]; sourceRoot?: string };
    const map = new SourceMap(payload as never);
    const first = payload.sources?.[0];
    const sourceFile = first ? (first.startsWith('file:') ? fileURLToPath(first) : path.resolve(base, payload.sourceRoot ?? '', first)) : undefined;
    return {
      sourceFile,
      map: (line, column) => {
        const o = map.findOrigin(line, column) as { lineNumber?: number; columnNumber?: number };
        return o.lineNumber ? { line: o.lineNumber, column: o.columnNumber ?? column } : { line, column };
      },
    };
  } catch {
    return {};
  }
}
