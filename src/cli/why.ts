// retrace why: replays to a location with provenance instrumentation and prints the lineage of a
// value there, back to the recorded inputs and the literals of the code.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TraceFile } from '../core/trace/reader.js';
import { ENV, preloadPath } from '../runtime/paths.js';
import { listTraces, projectRootFor, rootProcess, UsageError } from './recording.js';
import { addRecordingKeyEnv, recordedCommand } from './replay.js';
import type { Located, WhyAnswer, WhyRequest } from '../provenance/inprocess.js';
import { describeOrigins } from '../provenance/origins.js';
import { formatText, type WhyScope } from '../provenance/format.js';
import { renderHtml } from '../provenance/html.js';


export interface WhyOptions {
  location: string;
  at: string;
  expr: string;
  hit: number | 'last';
  json: boolean;
  html: string | null;
  maxNodes: number;
  process: number | undefined;
  /** auto: the hit's request (or connection), widened to the process when the lineage leaves it; narrow: never widened; all: the whole process. */
  scope: 'auto' | 'narrow' | 'all';
  control: boolean;
}

function parseLocation(at: string): { file: string; line: number; column?: number } {
  const m = /^(.+?):(\d+)(?::(\d+))?$/.exec(at);
  if (!m || Number(m[2]) < 1) throw new UsageError(`--at takes FILE:LINE[:COL], not "${at}"`);
  return { file: m[1]!, line: Number(m[2]), column: m[3] ? Number(m[3]) : undefined };
}

export async function run(opts: WhyOptions): Promise<number> {
  const result = await whyAnswer(opts);
  if (opts.html) {
    fs.writeFileSync(opts.html, renderHtml(result));
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(formatText(result) + (opts.html ? `\nwrote ${opts.html}\n` : ''));
  return 0;
}

/** The answer `why --json` prints: the value at the hit, its lineage, the scope traced and the passes run. */
export type WhyAnswerJson = Awaited<ReturnType<typeof whyAnswer>>;

/** Replays (once to three times, see Scope in docs/provenance.md) and returns the lineage answer; UsageError for what cannot be answered. */
export async function whyAnswer(opts: Pick<WhyOptions, 'location' | 'at' | 'expr' | 'hit' | 'maxNodes' | 'process' | 'scope' | 'control'>) {
  const loc = parseLocation(opts.at);
  // A pack replays in its snapshot of the project: FILE is read there.
  const replayRoot = projectRootFor(opts.location);
  const file = path.resolve(replayRoot, loc.file);
  if (!fs.existsSync(file)) throw new UsageError(`no source file ${loc.file}`);
  const lines = fs.readFileSync(file, 'utf8').split('\n').length;
  if (loc.line > lines) throw new UsageError(`${loc.file} has ${lines} lines, not ${loc.line}`);

  const refs = listTraces(opts.location);
  const ref = opts.process === undefined ? rootProcess(refs) : refs.find((r) => r.process === opts.process);
  if (!ref) throw new UsageError(`the recording has no process ${opts.process}`);
  const trace = TraceFile.open(ref.file);
  const header = trace.header;
  const mapPath = (p: string) => (p === header.cwd || p.startsWith(header.cwd + path.sep) ? replayRoot + p.slice(header.cwd.length) : p);
  const { execArgv, scriptArgs } = recordedCommand(header, replayRoot, mapPath, 'why');

  const base = { file, line: loc.line, column: loc.column, expr: opts.expr, maxNodes: opts.maxNodes, root: replayRoot, debug: !!process.env.RETRACE_WHY_DEBUG, control: opts.control };
  const replay = (request: Omit<WhyRequest, 'out'>) => replayForAnswer(request, { ref, trace, header, replayRoot, execArgv, scriptArgs });
  const passes: { mode: string; ms: number }[] = [];

  // Replay is deterministic, so `why` can look first and trace after: a cheap replay with only the
  // probe finds the hit and the request (or connection) it ran in; the traced replay then makes
  // lineage only there (and in the program's own code outside every connection), and is re-run for
  // the whole process when the lineage turns out to leave it.
  let hit = opts.hit;
  let located: Located | undefined;
  if (opts.scope !== 'all' && acceptsConnections(trace)) {
    const first = await replay({ ...base, hit, mode: 'locate', scope: null });
    passes.push({ mode: 'locate', ms: first.elapsed });
    if (first.answer.error) throw new UsageError(first.answer.error);
    located = first.answer.located;
    if (located) hit = located.hit;
  }
  const narrowed = located !== undefined && located.connections > 0;
  // the locate pass counted every hit of the line; without one, the trace pass runs on to count them
  const counted = located !== undefined;
  let pass = await replay({ ...base, hit, mode: 'trace', scope: narrowed ? { place: located!.place } : null, countHits: !counted });
  passes.push({ mode: narrowed ? 'trace narrowed' : 'trace', ms: pass.elapsed });
  let scope: WhyScope;
  if (!narrowed) scope = { traced: 'process', reason: opts.scope === 'all' ? 'asked' : 'no connections' };
  else {
    const where = { place: located!.place, connections: pass.answer.scoped?.connections ?? located!.connections, requests: pass.answer.scoped?.requests ?? located!.requests };
    scope = { traced: 'narrowed', ...where };
    if (pass.answer.scoped?.outside && opts.scope === 'auto') {
      pass = await replay({ ...base, hit, mode: 'trace', scope: null, countHits: !counted });
      passes.push({ mode: 'trace', ms: pass.elapsed });
      scope = { traced: 'process', reason: 'widened', ...where };
    }
  }
  const { answer, stderr } = pass;
  if (answer.error) throw new UsageError(answer.error);
  if (scope.traced === 'narrowed' && answer.scoped?.outside) {
    answer.complete = false;
    answer.notes.push('part of the lineage was computed in another request or connection (the leaves "computed outside the traced request"); --scope auto or all traces it');
  }
  const divergence = stderr.split('\n').find((l) => l.startsWith('retrace: replay diverged'));
  if (divergence) answer.notes.push(`${divergence.replace(/^retrace: /, '')} (after the answer's hit; hits are counted up to there)`);
  describeOrigins(answer.lineage, trace);
  const result = {
    at: answer.at,
    expr: answer.expr,
    hit: answer.hit,
    hits: Math.max(answer.hits, located?.hits ?? 0),
    value: answer.value,
    complete: answer.complete,
    notes: answer.notes,
    scope,
    lineage: answer.lineage,
    stats: { ...answer.stats, replayMs: passes.reduce((t, p) => t + p.ms, 0), passes },
  };
  return result;
}

/**
 * Whether the recorded process accepted a connection (the only thing `why` narrows to). Reading
 * the trace costs far less than a replay; it stops at the first one, which a server has early.
 */
function acceptsConnections(trace: TraceFile): boolean {
  try {
    for (const ev of trace.events()) {
      if (ev.kind === 'request' && (ev.channel.name === 'net.accepted' || ev.channel.name === 'tls.accepted')) return true;
    }
    return false;
  } catch {
    return true; // a damaged trace: let the locating replay find what it can
  }
}

interface ReplayContext {
  ref: { file: string };
  trace: TraceFile;
  header: { cwd: string; argv: string[]; execArgv: string[]; timeZone: string };
  replayRoot: string;
  /** The recorded Node.js flags replay may pass (recordedCommand). */
  execArgv: string[];
  scriptArgs: string[];
}

/** One provenance replay of the recorded process: the answer it wrote, its stderr and how long it took. */
async function replayForAnswer(partial: Omit<WhyRequest, 'out'>, ctx: ReplayContext): Promise<{ answer: WhyAnswer; stderr: string; elapsed: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'retrace-why-'));
  const out = path.join(tmp, 'answer.json');
  const request: WhyRequest = { ...partial, out };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [ENV.mode]: 'replay',
    [ENV.trace]: path.resolve(ctx.ref.file),
    [ENV.replayRoot]: ctx.replayRoot,
    [ENV.why]: JSON.stringify(request),
    TZ: ctx.header.timeZone,
  };
  delete env[ENV.dir];
  addRecordingKeyEnv(env, ctx.trace);
  const nodeArgs = [`--require=${preloadPath()}`, ...ctx.execArgv, ...ctx.scriptArgs];
  const started = Date.now();
  const child = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (process.env.RETRACE_WHY_DEBUG) process.stderr.write(d);
  });
  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const elapsed = Date.now() - started;
  try {
    return { answer: JSON.parse(fs.readFileSync(out, 'utf8')) as WhyAnswer, stderr, elapsed };
  } catch {
    const lines = stderr.split('\n');
    const thrown = lines.find((l) => /^\w*Error\b/.test(l));
    const reason = [...lines.filter((l) => l.startsWith('retrace:')), ...(thrown ? [`the program threw ${thrown}`] : [])].join(' ').replace(/retrace: /g, '').trim();
    throw new UsageError(`the provenance replay ended before answering (${status.signal ?? `exit ${status.code}`})${reason ? `: ${reason}` : ''}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
