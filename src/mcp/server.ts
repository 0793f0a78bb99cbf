// `retrace mcp`: a Model Context Protocol server (over stdio, on the official SDK) that lets an AI
// agent inspect recordings with the same machinery as the command line: the timeline and events of
// `show`, the debugger replays of `print`, the lineage of `why`, and replays that count line hits.
// Every answer is bounded and says how to get the next page. Errors are tool errors of one sentence.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { TraceError, TraceFile } from '../core/trace/reader.js';
import { info } from '../cli/info.js';
import { planPrint, printHits, printProblem, programModules, type EvaluatedHit } from '../cli/print.js';
import { listTraces, projectRootFor, rootProcess, UsageError } from '../cli/recording.js';
import { prepareReplay } from '../cli/replay.js';
import { entryJson, eventInFull, eventText, filteredTimeline, openTimelineTraces } from '../cli/show.js';
import { DEFAULT_MAX_NODES } from '../cli/commands/why.js';
import { whyAnswer, type WhyAnswerJson } from '../cli/why.js';
import { lineHits, replayWithCoverage, type CoveredReplay } from '../inspect/coverage.js';
import type { Entry } from '../inspect/entry.js';
import { lastWrite, LastWriteError, type SourcePoint } from '../inspect/last-write.js';
import { LocationError, parseLocation } from '../inspect/location.js';
import { KIND_GROUPS } from '../inspect/timeline.js';
import type { LineageNode } from '../provenance/tree.js';
import { retraceVersion } from '../runtime/paths.js';
import { Recordings, type RecordingRef } from './recordings.js';

/** Text answers longer than this are cut, with the offset to read on. */
const MAX_TEXT = 20_000;

const recordingParam = z
  .string()
  .optional()
  .describe('Which recording: its name from list_recordings (or a path). May be left out when the server holds one recording.');
const processParam = z.number().int().min(0).optional().describe('The recorded process (p0, p1… in the overview); default: the root process.');
const atParam = z.string().describe('A source location FILE:LINE[:COL], FILE relative to the project folder (a .ts file of a program compiled with source maps works).');

function json(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }] };
}

/** One sentence for an error: ours are one line already; anything else is cut to its first line. */
function sentence(err: unknown): string {
  if (err instanceof UsageError || err instanceof TraceError || err instanceof LocationError || err instanceof LastWriteError) return err.message;
  const first = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  return `internal error: ${first}`;
}

/** Wraps a tool so that whatever it throws comes back as a tool error of one sentence. */
function guarded<A>(fn: (args: A) => Promise<CallToolResult> | CallToolResult): (args: A) => Promise<CallToolResult> {
  return async (args: A) => {
    try {
      return await fn(args);
    } catch (err) {
      return { content: [{ type: 'text', text: sentence(err) }], isError: true };
    }
  };
}

/** Whether a timeline entry is a failure, and of which type. */
function failureType(e: Entry): string | null {
  const f = (e.fields ?? {}) as Record<string, unknown>;
  if (e.kind === 'crash') return /^\[?UnhandledPromiseRejection/.test(String(f.error ?? '')) ? 'unhandled rejection' : 'uncaught exception';
  if ((e.kind === 'http.in' || e.kind === 'http.out') && typeof f.status === 'number' && f.status >= 500) return `${f.status} response`;
  if (e.kind === 'http.out' && f.status === null) return 'request without a response';
  if (f.error !== undefined && f.error !== null) return `${e.kind} error`;
  if (f.threw === true) return `${e.kind} call threw`;
  if (e.kind === 'redis' && f.reply && typeof f.reply === 'object' && 'error' in (f.reply as object)) return 'redis error reply';
  if (e.kind === 'net' && /\bfailed\b|\berror\b/.test(e.summary)) return 'connection error';
  if (e.kind === 'process' && typeof f.exitCode === 'number' && f.exitCode !== 0) return 'non-zero exit';
  if (e.kind === 'process' && f.reason === 'signal') return 'killed by a signal';
  if (e.kind === 'child' && ((typeof f.exitCode === 'number' && f.exitCode !== 0) || f.signal)) return 'child process failed';
  return null;
}

/** The lineage tree cut to a size: breadth first, each node with an id to expand it by. */
interface CutNode {
  id: string;
  value: string;
  op: string;
  at?: string;
  /** Where the value was last stored (an assignment, a declaration, an argument). */
  stored?: string;
  via?: number;
  imprecise?: true;
  summary?: true;
  control?: true;
  origin?: { kind: string; detail?: string; event?: number };
  inputs?: CutNode[];
  /** Inputs left out to keep the answer small: expand with `node: id`. */
  more?: number;
}

function cutNode(n: LineageNode, id: string): CutNode {
  const c: CutNode = { id, value: n.value, op: n.op };
  if (n.at) c.at = n.at;
  if (n.stored) c.stored = n.stored;
  if (n.via) c.via = n.via;
  if (n.imprecise) c.imprecise = true;
  if (n.summary) c.summary = true;
  if (n.control) c.control = true;
  if (n.origin) {
    const o = n.origin as { kind: string; detail?: string; event?: number };
    c.origin = { kind: o.kind, ...(o.detail ? { detail: o.detail } : {}), ...(typeof o.event === 'number' ? { event: o.event } : {}) };
  }
  return c;
}

export function cutTree(root: LineageNode, rootId: string, budget: number): { tree: CutNode; shown: number; hidden: number } {
  const tree = cutNode(root, rootId);
  let shown = 1;
  let hidden = 0;
  const queue: { node: LineageNode; cut: CutNode }[] = [{ node: root, cut: tree }];
  for (let i = 0; i < queue.length; i++) {
    const { node, cut } = queue[i]!;
    node.inputs.forEach((input, k) => {
      if (shown >= budget) {
        cut.more = (cut.more ?? 0) + 1;
        hidden++;
        return;
      }
      const child = cutNode(input, `${cut.id}.${k}`);
      (cut.inputs ??= []).push(child);
      shown++;
      queue.push({ node: input, cut: child });
    });
  }
  return { tree, shown, hidden };
}

function findNode(root: LineageNode, id: string): LineageNode | null {
  const parts = id.split('.');
  if (parts[0] !== '0') return null;
  let n: LineageNode | undefined = root;
  for (const p of parts.slice(1)) {
    if (!/^\d+$/.test(p)) return null;
    n = n?.inputs[Number(p)];
    if (!n) return null;
  }
  return n;
}

function originsOf(root: LineageNode): string[] {
  const out = new Set<string>();
  const visit = (n: LineageNode) => {
    if (n.origin && n.origin.kind !== 'literal') out.add((n.origin as { detail?: string }).detail ?? n.origin.kind);
    n.inputs.forEach(visit);
  };
  visit(root);
  return [...out];
}

/** A small cache of answers that cost a replay: the newest `size` kept. */
class Answers<T> {
  private readonly map = new Map<string, { stamp: string; value: Promise<T> }>();
  constructor(private readonly size: number) {}

  get(key: string, stamp: string, make: () => Promise<T>): Promise<T> {
    const hit = this.map.get(key);
    if (hit && hit.stamp === stamp) return hit.value;
    const value = make();
    value.catch(() => this.map.delete(key));
    this.map.set(key, { stamp, value });
    while (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
    return value;
  }
}

/** What changes when a recording is made again over the same folder: its trace files' sizes and times. */
function stampOf(location: string): string {
  return listTraces(location)
    .map((r) => {
      const s = fs.statSync(r.file);
      return `${r.file}:${s.size}:${s.mtimeMs}`;
    })
    .join('|');
}

function nextPage(tool: string, offset: number, more: boolean, extra = ''): string | null {
  return more ? `more: call ${tool} again with offset: ${offset}${extra}` : null;
}

export function createServer(recordings: Recordings): McpServer {
  // every tool first unwraps the keys of encrypted recordings (--identity), then runs
  const tool = <A>(fn: (args: A) => Promise<CallToolResult> | CallToolResult) => guarded(async (a: A) => {
    await recordings.unlock();
    return fn(a);
  });
  const server = new McpServer({ name: 'retrace', version: retraceVersion() }, {
    instructions:
      'retrace-node recordings: a Node.js program recorded at its boundary (HTTP, databases, files, clocks, randomness) and replayed offline, deterministically. ' +
      'Start with overview and failures, read the timeline and single events, then replay the program to look inside it: logpoint (an expression at a line, every hit), ' +
      'evaluate (locals at one hit), why (where a value came from), source (how often each line ran). Every answer is paged: follow its "more" hint.',
  });
  const whyCache = new Answers<WhyAnswerJson>(16);
  const replayCache = new Answers<CoveredReplay & { recordedEnd: string; recordedExit: number | null; recordedSignal: string | null; modules: string[] }>(8);

  const covered = (ref: RecordingRef, processNumber: number | undefined) =>
    replayCache.get(`${ref.location}\0${processNumber ?? ''}`, stampOf(ref.location), async () => {
      const prepared = prepareReplay({ location: ref.location, process: processNumber, nodeFlags: [], stallMs: undefined });
      const modules = programModules(prepared.trace.modules.map((m) => m.url), prepared.header.cwd, prepared.replayRoot).map((m) => path.resolve(m));
      const own = new Set(modules);
      const root = prepared.replayRoot + path.sep;
      // The program's own modules; a recording without the list: the project's files outside node_modules.
      const keep = own.size > 0 ? (f: string) => own.has(path.resolve(f)) : (f: string) => f.startsWith(root) && !f.includes(`${path.sep}node_modules${path.sep}`);
      const run = await replayWithCoverage({ args: prepared.args, env: prepared.env, cwd: prepared.replayRoot }, keep);
      const end = prepared.trace.end;
      return {
        ...run,
        modules,
        recordedExit: end ? end.exitCode : null,
        recordedSignal: end ? end.signal : null,
        recordedEnd: end ? (end.signal ? `killed by ${end.signal}` : `exit status ${end.exitCode}`) : `truncated (${prepared.trace.truncation})`,
      };
    });

  server.registerResource(
    'recording',
    new ResourceTemplate('retrace://recording/{name}', {
      list: () => ({
        resources: recordings.list().map((r) => ({ uri: `retrace://recording/${encodeURIComponent(r.name)}`, name: r.name, description: `retrace recording at ${r.location}`, mimeType: 'application/json' })),
      }),
    }),
    { description: 'A recording: its processes, command, duration and how it ended (the overview tool gives the same and more).', mimeType: 'application/json' },
    (uri, vars) => {
      const name = decodeURIComponent(String(vars.name));
      const ref = recordings.resolve(name);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ recording: ref.name, location: ref.location, processes: info(ref.location) }, null, 1) }] };
    },
  );

  server.registerTool(
    'list_recordings',
    { description: 'The recordings this server can read (also listed as resources), by name.', inputSchema: {} },
    tool(() => json({ recordings: recordings.list() })),
  );

  server.registerTool(
    'overview',
    {
      description: 'What a recording holds: each process with its command, pid, start, duration, how it ended (exit status, signal, uncaught exception with its message), events by kind, child processes.',
      inputSchema: { recording: recordingParam },
    },
    tool(({ recording }: { recording?: string }) => {
      const ref = recordings.resolve(recording);
      const processes = info(ref.location).map((p) => {
        const trace = TraceFile.open(listTraces(ref.location).find((r) => r.process === p.process)!.file);
        let crash: string | null = null;
        try {
          for (const ev of trace.events()) {
            if (ev.kind === 'value' && ev.channel.name === 'process.end') {
              const end = ev.value as { reason?: string; error?: string };
              if (end.reason === 'uncaught') crash = end.error ?? 'an uncaught exception (its text was not recorded)';
            }
          }
        } catch {
          // info() reports an unreadable tail as the process's problem
        }
        const top = Object.entries(p.eventsByKind).sort((a, b) => b[1] - a[1]);
        return {
          process: p.process,
          parent: p.parent,
          command: p.command,
          pid: p.pid,
          cwd: p.cwd,
          node: p.nodeVersion,
          started: p.started,
          durationMs: p.durationMs,
          end: p.end,
          crash,
          redaction: trace.header.redaction ? 'secrets redacted at record time (placeholders in values)' : trace.header.redaction === null ? 'recorded with --no-redact: secrets stored as they were' : 'recorded before redaction existed: nothing redacted',
          events: p.events,
          eventsByKind: Object.fromEntries(top.slice(0, 15)),
          ...(top.length > 15 ? { otherKinds: top.length - 15 } : {}),
          children: p.children,
          ...(p.problem ? { problem: p.problem } : {}),
        };
      });
      return json({ recording: ref.name, location: ref.location, processes, next: 'failures for what went wrong; timeline for what happened' });
    }),
  );

  server.registerTool(
    'timeline',
    {
      description:
        'The timeline of the recording as `retrace show` lists it: one entry per request served or made, query, Redis command, file read, clock or random reading, timer, child process, crash. ' +
        `Filters: kind (comma-separated: ${Object.keys(KIND_GROUPS).join(', ')}), grep (text in the summary), process, fromMs/toMs (ms since the recording started). Paged by offset and limit.`,
      inputSchema: {
        recording: recordingParam,
        kind: z.string().optional().describe('Kinds, comma-separated (http, http.in, http.out, sql, pg, mysql, redis, db, net, fs, time, random, crypto, timer, env, child, process, crash…).'),
        grep: z.string().optional().describe('Keep entries whose summary contains this text (any case).'),
        process: z.number().int().min(0).optional().describe('Only this process.'),
        fromMs: z.number().min(0).optional(),
        toMs: z.number().min(0).optional(),
        all: z.boolean().optional().describe('Include bookkeeping events (kind engine).'),
        fields: z.boolean().optional().describe('Include each entry\'s structured fields (as show --json).'),
        offset: z.number().int().min(0).optional().describe('Entries to skip (from a previous answer\'s next offset).'),
        limit: z.number().int().min(1).max(500).optional().describe('Entries to return, default 50.'),
      },
    },
    tool((a: { recording?: string; kind?: string; grep?: string; process?: number; fromMs?: number; toMs?: number; all?: boolean; fields?: boolean; offset?: number; limit?: number }) => {
      const ref = recordings.resolve(a.recording);
      const kinds = (a.kind ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      for (const k of kinds) if (!KIND_GROUPS[k]) throw new UsageError(`unknown kind "${k}"; kinds: ${Object.keys(KIND_GROUPS).join(', ')}`);
      if (a.fromMs !== undefined && a.toMs !== undefined && a.toMs < a.fromMs) throw new UsageError(`toMs ${a.toMs} is before fromMs ${a.fromMs}`);
      const offset = a.offset ?? 0;
      const limit = a.limit ?? 50;
      const traces = openTimelineTraces(ref.location, a.process ?? null);
      const entries: Record<string, unknown>[] = [];
      let seen = 0;
      let more = false;
      for (const entry of filteredTimeline(traces, { kinds, grep: a.grep ?? null, from: a.fromMs ?? null, to: a.toMs ?? null, all: a.all ?? false })) {
        if (seen++ < offset) continue;
        if (entries.length === limit) {
          more = true;
          break;
        }
        const j = entryJson(entry);
        if (!a.fields) delete j.fields;
        entries.push(j);
      }
      return json({
        recording: ref.name,
        offset,
        entries,
        ...(entries.length === 0 && offset > 0 ? { note: `there are ${Math.min(seen, offset)} matching entries; none from offset ${offset}` } : {}),
        next: nextPage('timeline', offset + entries.length, more, ' and the same filters') ?? 'that is the last entry; event N shows one in full',
      });
    }),
  );

  server.registerTool(
    'event',
    {
      description: 'One event in full, as `retrace show --event N`: an HTTP exchange with headers and bodies, a query with its parameters and rows, a Redis command and reply, a file read, or the raw recorded event. Long answers are paged by characters.',
      inputSchema: {
        recording: recordingParam,
        event: z.number().int().min(0).describe('The event number (from the timeline or failures).'),
        process: processParam,
        offset: z.number().int().min(0).optional().describe('Character offset to read on from (from a previous answer).'),
      },
    },
    tool((a: { recording?: string; event: number; process?: number; offset?: number }) => {
      const ref = recordings.resolve(a.recording);
      const trace = openTimelineTraces(ref.location, a.process ?? null, true)[0]!;
      const text = eventText(eventInFull(trace, a.event));
      const offset = a.offset ?? 0;
      if (offset > 0 && offset >= text.length) throw new UsageError(`the event's text has ${text.length} characters; there is nothing from offset ${offset}`);
      const part = text.slice(offset, offset + MAX_TEXT);
      const end = offset + part.length;
      const footer = end < text.length ? `\n\n(characters ${offset}-${end} of ${text.length}; more: call event again with offset: ${end})` : '';
      return { content: [{ type: 'text', text: part + footer }] };
    }),
  );

  server.registerTool(
    'failures',
    {
      description:
        'What went wrong in the recording: uncaught exceptions and unhandled rejections (with the stack the process printed), 5xx responses served or received, requests that got no response, database and Redis errors, calls and requests that failed, connection errors, non-zero exits. Each with its event number (event shows it in full).',
      inputSchema: {
        recording: recordingParam,
        offset: z.number().int().min(0).optional(),
        limit: z.number().int().min(1).max(200).optional().describe('Failures to return, default 20.'),
      },
    },
    tool((a: { recording?: string; offset?: number; limit?: number }) => {
      const ref = recordings.resolve(a.recording);
      const offset = a.offset ?? 0;
      const limit = a.limit ?? 20;
      const traces = openTimelineTraces(ref.location, null);
      const failures: Record<string, unknown>[] = [];
      let seen = 0;
      let more = false;
      for (const entry of filteredTimeline(traces, { kinds: [], grep: null, from: null, to: null, all: false })) {
        const type = failureType(entry);
        if (!type) continue;
        if (seen++ < offset) continue;
        if (failures.length === limit) {
          more = true;
          break;
        }
        const f = (entry.fields ?? {}) as Record<string, unknown>;
        const stack = entry.kind === 'crash' && typeof f.error === 'string' ? f.error : null;
        failures.push({
          type,
          process: entry.process,
          event: entry.event,
          timeMs: Math.round(entry.time * 1000) / 1000,
          kind: entry.kind,
          summary: entry.summary,
          stack,
          ...(stack === null ? { stackNote: 'no stack is recorded for this: logpoint or evaluate at the code that handled it shows one' } : {}),
          ...(f.error !== undefined && f.error !== null && entry.kind !== 'crash' ? { error: f.error } : {}),
        });
      }
      return json({
        recording: ref.name,
        offset,
        failures,
        ...(failures.length === 0 && offset === 0 ? { note: 'no failures recorded: no uncaught exception, 5xx, error reply or non-zero exit' } : {}),
        next: nextPage('failures', offset + failures.length, more) ?? 'that is the last failure',
      });
    }),
  );

  const hitJson = (r: EvaluatedHit) => ({
    hit: r.hit,
    event: r.event,
    ...(r.error !== undefined ? (r.error.startsWith('not run:') ? { refused: r.error.slice('not run: '.length) } : { threw: r.error }) : r.value !== undefined ? { value: r.value, type: r.valueType } : {}),
  });

  server.registerTool(
    'logpoint',
    {
      description:
        'Replays the recording with a debugger and evaluates an expression each time execution reaches FILE:LINE, as `retrace print` (side-effect free: an expression that could change the program is refused, not run). ' +
        'Each hit has its number and the last recorded event the program had read (event shows it). Paged by offset and limit over the hits.',
      inputSchema: {
        recording: recordingParam,
        at: atParam,
        expr: z.string().min(1).describe('A JavaScript expression over the names in scope at that line.'),
        process: processParam,
        offset: z.number().int().min(0).optional().describe('Hits to skip.'),
        limit: z.number().int().min(1).max(200).optional().describe('Hits to return, default 20.'),
      },
    },
    tool(async (a: { recording?: string; at: string; expr: string; process?: number; offset?: number; limit?: number }) => {
      const ref = recordings.resolve(a.recording);
      checkExpression(a.expr);
      const offset = a.offset ?? 0;
      const limit = a.limit ?? 20;
      const { prepared, plan } = planPrint({ location: ref.location, at: a.at, process: a.process, stallMs: undefined });
      const hits: ReturnType<typeof hitJson>[] = [];
      // Hits offset+1 to offset+limit are evaluated; seeing one more says there are more.
      const outcome = await printHits(prepared, { plan, expr: a.expr, hit: null, range: { first: offset + 1, last: offset + limit }, stopAfter: offset + limit + 1 }, (r) => hits.push(hitJson(r)));
      if (outcome.setupError) throw new UsageError(outcome.setupError);
      if (outcome.hits === 0 || (hits.length === 0 && outcome.hits <= offset)) {
        const problem = printProblem(outcome, plan, a.expr, offset > 0 ? offset + 1 : null);
        throw new UsageError(problem ?? `${plan.display} ran ${outcome.hits} times; there is no hit ${offset + 1}`);
      }
      const more = outcome.stoppedEarly;
      return json({
        at: plan.display,
        ...(plan.movedTo !== null ? { movedTo: `line ${plan.movedTo} (the line asked for has no code)` } : {}),
        expr: a.expr,
        offset,
        hits,
        ...(more ? {} : { totalHits: outcome.hits }),
        ...(outcome.said.length ? { replay: outcome.said.map((l) => l.replace(/^retrace: /, '')) } : {}),
        next: nextPage('logpoint', offset + hits.length, more) ?? 'that is the last hit',
      });
    }),
  );

  server.registerTool(
    'evaluate',
    {
      description:
        'Replays to one hit of FILE:LINE and returns the paused frame\'s local variables (local, block, closure and module scopes, previewed) and, if given, the value of an expression there. ' +
        'Evaluation is side-effect free: V8\'s side-effect check refuses anything that could change the program (assignments, calls that write, recorded APIs such as Date.now or fetch) and the answer says it was refused.',
      inputSchema: {
        recording: recordingParam,
        at: atParam,
        hit: z.number().int().min(1).optional().describe('Which time the line ran (from 1; default 1; logpoint lists them).'),
        expr: z.string().optional().describe('An expression to evaluate there (optional).'),
        process: processParam,
        localsOffset: z.number().int().min(0).optional().describe('Variables to skip (from a previous answer).'),
      },
    },
    tool(async (a: { recording?: string; at: string; hit?: number; expr?: string; process?: number; localsOffset?: number }) => {
      const ref = recordings.resolve(a.recording);
      const expr = a.expr?.trim() ? a.expr : null;
      if (expr !== null) checkExpression(expr);
      const hit = a.hit ?? 1;
      const { prepared, plan } = planPrint({ location: ref.location, at: a.at, process: a.process, stallMs: undefined });
      let found: EvaluatedHit | null = null;
      const outcome = await printHits(prepared, { plan, expr, hit, stopAfter: hit, locals: true }, (r) => (found = r));
      if (outcome.setupError) throw new UsageError(outcome.setupError);
      if (!found) throw new UsageError(printProblem(outcome, plan, expr ?? '', hit) ?? `${plan.display} ran ${outcome.hits} times; there is no hit ${hit}`);
      const r = found as EvaluatedHit;
      const locals = r.locals ?? [];
      const from = a.localsOffset ?? 0;
      const shown = locals.slice(from, from + 100);
      return json({
        at: plan.display,
        ...(expr !== null ? { expr } : {}),
        ...hitJson(r),
        locals: shown.map((v) => ({ scope: v.scope, name: v.name, value: v.value, type: v.type })),
        ...(from + shown.length < locals.length ? { next: `more: call evaluate again with localsOffset: ${from + shown.length}` } : {}),
      });
    }),
  );

  server.registerTool(
    'why',
    {
      description:
        'Where a value came from, as `retrace why --json`: replays with the program instrumented, evaluates EXPR at a hit of FILE:LINE and returns its lineage (operations, calls and copies back to recorded inputs: request bodies, SQL rows, responses, env, files, and literals of the code). ' +
        'The tree is cut to maxNodes nodes breadth first; a node with "more" has inputs left out: call why again with the same arguments and node: its id (answers are cached, so this is immediate). A why replay takes seconds.',
      inputSchema: {
        recording: recordingParam,
        at: atParam,
        expr: z.string().min(1).describe('The value: an expression over the names in scope there.'),
        hit: z.union([z.number().int().min(1), z.literal('last')]).optional().describe('Which hit (default last).'),
        scope: z.enum(['auto', 'narrow', 'all']).optional().describe('auto (default): the request that holds the value, widened when needed; all: the whole process.'),
        control: z.boolean().optional().describe('Also conditions that decided which code ran (--control).'),
        process: processParam,
        node: z.string().optional().describe('Expand this node (an id from a previous answer, e.g. "0.1.2").'),
        maxNodes: z.number().int().min(1).max(500).optional().describe('Nodes in the answer, default 40.'),
      },
    },
    tool(async (a: { recording?: string; at: string; expr: string; hit?: number | 'last'; scope?: 'auto' | 'narrow' | 'all'; control?: boolean; process?: number; node?: string; maxNodes?: number }) => {
      const ref = recordings.resolve(a.recording);
      const q = { location: ref.location, at: a.at, expr: a.expr, hit: a.hit ?? ('last' as const), scope: a.scope ?? ('auto' as const), control: a.control ?? false, process: a.process, maxNodes: DEFAULT_MAX_NODES };
      const key = JSON.stringify([path.resolve(q.location), q.at, q.expr, q.hit, q.scope, q.control, q.process ?? null]);
      const answer = await whyCache.get(key, stampOf(ref.location), () => whyAnswer(q));
      const budget = a.maxNodes ?? 40;
      const base = { at: answer.at, expr: answer.expr, hit: answer.hit, hits: answer.hits, value: answer.value, complete: answer.complete, notes: answer.notes, scope: answer.scope };
      if (!answer.lineage) return json({ ...base, lineage: null });
      if (a.node !== undefined) {
        const node = findNode(answer.lineage, a.node);
        if (!node) throw new UsageError(`there is no node ${a.node} in this answer (ids look like 0, 0.1, 0.1.2)`);
        const cut = cutTree(node, a.node, budget);
        return json({ ...base, node: a.node, lineage: cut.tree, ...(cut.hidden ? { next: 'nodes with "more" have inputs left out: call why again with node: their id' } : {}) });
      }
      const cut = cutTree(answer.lineage, '0', budget);
      const origins = originsOf(answer.lineage);
      return json({
        ...base,
        origins: origins.slice(0, 30),
        ...(origins.length > 30 ? { moreOrigins: origins.length - 30 } : {}),
        lineage: cut.tree,
        stats: { replayMs: answer.stats.replayMs, nodes: answer.stats.nodes },
        ...(cut.hidden ? { next: 'nodes with "more" have inputs left out: call why again with the same arguments and node: their id' } : {}),
      });
    }),
  );

  server.registerTool(
    'last_write',
    {
      description:
        'Where the value an expression reads at one hit of FILE:LINE was last stored: the assignment, declaration or argument that put it there, and the operation that made it (with the recorded input it came from, when it is one). ' +
        'Answered by the provenance engine (one instrumented replay, as why); evaluate at the stored line shows the values there.',
      inputSchema: {
        recording: recordingParam,
        at: atParam,
        hit: z.number().int().min(1).optional().describe('Which time the line ran (from 1; default 1; logpoint lists them).'),
        expr: z.string().min(1).describe('A variable or property (order.total), or any side-effect-free expression.'),
        process: processParam,
      },
    },
    tool(async (a: { recording?: string; at: string; hit?: number; expr: string; process?: number }) => {
      const ref = recordings.resolve(a.recording);
      checkExpression(a.expr);
      // A pack replays in its snapshot of the project: FILE is read there.
      const project = projectRootFor(ref.location);
      const position = parseLocation(a.at, project);
      const w = await lastWrite({ recording: path.resolve(ref.location), process: a.process, file: position.file, line: position.line, hit: a.hit ?? 1, expression: a.expr, cwd: project });
      const shown = (p: SourcePoint | null) => (p ? `${path.relative(project, p.file) || p.file}:${p.line}:${p.column}` : null);
      const stored = shown(w.stored);
      return json({
        at: a.at,
        hit: a.hit ?? 1,
        expr: w.expression,
        value: w.value,
        stored,
        op: w.op,
        made: shown(w.made),
        origin: w.origin,
        hits: w.hits,
        complete: w.complete,
        notes: w.notes,
        next: stored
          ? `evaluate at ${stored.replace(/:\d+$/, '')} shows the values where it was stored; why with the same at, expr and hit shows the whole lineage`
          : 'stored is null: the value was not copied after it was made, so "made" is where it was computed and put in place; why with the same at, expr and hit shows the whole lineage',
      });
    }),
  );

  server.registerTool(
    'source',
    {
      description:
        'A source file of the program with how many times each line ran in the recording (exact: a replay with V8 block coverage; "-" marks lines with no code). A .ts file compiled with source maps is counted through its map. The replay runs once per recording and is reused. Paged by lines.',
      inputSchema: {
        recording: recordingParam,
        file: z.string().describe('The file, relative to the project folder.'),
        process: processParam,
        fromLine: z.number().int().min(1).optional().describe('First line (default 1).'),
        limit: z.number().int().min(1).max(1000).optional().describe('Lines to return, default 200.'),
      },
    },
    tool(async (a: { recording?: string; file: string; process?: number; fromLine?: number; limit?: number }) => {
      const ref = recordings.resolve(a.recording);
      const project = projectRootFor(ref.location);
      const file = path.resolve(project, a.file);
      if (!fs.existsSync(file)) throw new UsageError(`no file ${a.file} (looked for ${file})`);
      const run = await covered(ref, a.process);
      const lines = lineHits(file, run.scripts);
      if (!lines) {
        const shown = run.modules.slice(0, 6).map((m) => path.relative(project, m) || m);
        throw new UsageError(`${a.file} did not run in this recording: no script the program ran is this file or was compiled from it (it ran ${shown.join(', ') || 'no module of its own'}${run.modules.length > 6 ? ', …' : ''})`);
      }
      const from = a.fromLine ?? 1;
      if (from > lines.length) throw new UsageError(`${a.file} has ${lines.length} lines; there is no line ${from}`);
      const part = lines.slice(from - 1, from - 1 + (a.limit ?? 200));
      const width = Math.max(4, ...part.map((l) => String(l.count ?? '-').length));
      const body = part.map((l) => `${String(l.line).padStart(5)} ${String(l.count ?? '-').padStart(width)} | ${l.text}`);
      const last = part[part.length - 1]!.line;
      const ran = lines.filter((l) => (l.count ?? 0) > 0).length;
      const header = `${path.relative(project, file) || file}: lines ${from}-${last} of ${lines.length}; ${ran} lines ran (line, times it ran, source)`;
      const diverged = run.messages.find((m) => /diverged|stalled|recording ends here/.test(m));
      const notes = diverged ? [`note: the replay stopped early (${diverged.replace(/^retrace: /, '')}); counts are up to there`] : [];
      const footer = last < lines.length ? [`more: call source again with fromLine: ${last + 1}`] : [];
      return { content: [{ type: 'text', text: [header, ...notes, ...body, ...footer].join('\n') }] };
    }),
  );

  server.registerTool(
    'replay',
    {
      description: 'Replays the recording offline and says whether it still replays: the exit status against the recorded one, and the divergence report (the recorded call, the attempted call and the program\'s line) if the program no longer does what was recorded. Cached until the recording changes.',
      inputSchema: { recording: recordingParam, process: processParam },
    },
    tool(async (a: { recording?: string; process?: number }) => {
      const ref = recordings.resolve(a.recording);
      const run = await covered(ref, a.process);
      const divergence = run.messages.filter((m) => !m.startsWith('retrace: warning'));
      const sameEnd = run.recordedSignal ? run.signal === run.recordedSignal : run.exitCode === run.recordedExit;
      const ok = divergence.length === 0 && sameEnd;
      return json({
        recording: ref.name,
        replays: ok,
        exit: run.signal ? `killed by ${run.signal}` : `exit status ${run.exitCode}`,
        recorded: run.recordedEnd,
        ...(divergence.length ? { report: divergence.map((l) => l.replace(/^retrace: /, '')) } : {}),
        ...(run.messages.length > divergence.length ? { warnings: run.messages.filter((m) => m.startsWith('retrace: warning')).map((l) => l.replace(/^retrace: /, '')) } : {}),
        ...(!ok && run.stderrTail ? { stderrTail: run.stderrTail.split('\n').slice(-20).join('\n') } : {}),
        replayMs: run.elapsedMs,
        summary: ok ? `it replays: same end as recorded (${run.recordedEnd}), no divergence` : divergence.length ? divergence[0]!.replace(/^retrace: /, '') : `the replay ended differently: ${run.signal ?? run.exitCode}, recorded ${run.recordedEnd}`,
      });
    }),
  );

  return server;
}

/** An expression is compiled, never run, before any replay: a statement or a typo is one sentence at once. */
function checkExpression(expr: string): void {
  try {
    new Function(`return (${expr}\n);`);
  } catch (err) {
    throw new UsageError(`${JSON.stringify(expr)} is not a JavaScript expression: ${(err as Error).message}`);
  }
}

/** Serves MCP on stdin/stdout until the client closes stdin. */
export async function serveStdio(location: string, identities: string[] = []): Promise<number> {
  const recordings = new Recordings(location, identities);
  await recordings.unlock();
  // Checked at start: one recording given must be readable (an empty or cut file, a file that is
  // not a trace, an encrypted one without --identity fail here in one line, not on the first call).
  if (recordings.single) TraceFile.open(rootProcess(listTraces(location)).file);
  const server = createServer(recordings);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => {});
  return 0;
}
