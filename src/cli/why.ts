// retrace why: replays to a location with provenance instrumentation and prints the lineage of a
// value there, back to the recorded inputs and the literals of the code.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TraceFile } from '../core/trace/reader.js';
import { ENV, preloadPath } from '../runtime/paths.js';
import { listTraces, rootProcess, UsageError } from './recording.js';
import type { WhyAnswer, WhyRequest } from '../provenance/inprocess.js';
import { describeOrigins } from '../provenance/origins.js';
import { formatText } from '../provenance/format.js';
import { renderHtml } from '../provenance/html.js';

const DEFAULT_MAX_NODES = 1_000_000;

interface WhyOptions {
  location: string;
  at: string;
  expr: string;
  hit: number | 'last';
  json: boolean;
  html: string | null;
  maxNodes: number;
  process: number | undefined;
}

function parseArgs(args: string[]): WhyOptions {
  const opts: Partial<WhyOptions> = { location: 'recording', hit: 'last', json: false, html: null, maxNodes: DEFAULT_MAX_NODES };
  const value = (i: number, flag: string) => {
    const v = args[i + 1];
    if (v === undefined || (v.startsWith('--') && flag !== '--expr')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const take = () => inline ?? value(i++, flag);
    switch (flag) {
      case '--at': opts.at = take(); break;
      case '--expr': opts.expr = take(); break;
      case '--hit': {
        const v = take();
        if (v === 'last') opts.hit = 'last';
        else if (/^[1-9]\d*$/.test(v)) opts.hit = Number(v);
        else throw new UsageError(`--hit takes a positive whole number or "last", not "${v}"`);
        break;
      }
      case '--json': opts.json = true; break;
      case '--html': opts.html = take(); break;
      case '--max-nodes': {
        const v = take();
        if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`--max-nodes takes a positive whole number, not "${v}"`);
        opts.maxNodes = Number(v);
        break;
      }
      case '--process':
      case '-p': {
        const v = take();
        if (!/^\d+$/.test(v)) throw new UsageError(`--process takes a whole number, not "${v}"`);
        opts.process = Number(v);
        break;
      }
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option for why: ${a}`);
        opts.location = a;
    }
  }
  if (!opts.at) throw new UsageError('why needs --at FILE:LINE[:COL]');
  if (opts.expr === undefined || opts.expr.trim() === '') throw new UsageError('why needs --expr EXPR');
  return opts as WhyOptions;
}

function parseLocation(at: string): { file: string; line: number; column?: number } {
  const m = /^(.+?):(\d+)(?::(\d+))?$/.exec(at);
  if (!m || Number(m[2]) < 1) throw new UsageError(`--at takes FILE:LINE[:COL], not "${at}"`);
  return { file: m[1]!, line: Number(m[2]), column: m[3] ? Number(m[3]) : undefined };
}

export async function run(args: string[]): Promise<number> {
  const opts = parseArgs(args);
  const loc = parseLocation(opts.at);
  const file = path.resolve(loc.file);
  if (!fs.existsSync(file)) throw new UsageError(`no source file ${loc.file}`);
  const lines = fs.readFileSync(file, 'utf8').split('\n').length;
  if (loc.line > lines) throw new UsageError(`${loc.file} has ${lines} lines, not ${loc.line}`);

  const refs = listTraces(opts.location);
  const ref = opts.process === undefined ? rootProcess(refs) : refs.find((r) => r.process === opts.process);
  if (!ref) throw new UsageError(`the recording has no process ${opts.process}`);
  const trace = TraceFile.open(ref.file);
  const header = trace.header;
  const replayRoot = process.cwd();
  const mapPath = (p: string) => (p === header.cwd || p.startsWith(header.cwd + path.sep) ? replayRoot + p.slice(header.cwd.length) : p);
  const script = header.argv[1];
  const scriptArgs: string[] = [];
  if (script !== undefined) {
    const mapped = mapPath(script);
    if (!fs.existsSync(mapped)) throw new UsageError(`the recorded program ${mapped} is not here: run why from the project folder the recording was made in`);
    scriptArgs.push(mapped, ...header.argv.slice(2));
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'retrace-why-'));
  const out = path.join(tmp, 'answer.json');
  const request: WhyRequest = { file, line: loc.line, column: loc.column, expr: opts.expr, hit: opts.hit, out, maxNodes: opts.maxNodes, root: replayRoot, debug: !!process.env.RETRACE_WHY_DEBUG };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [ENV.mode]: 'replay',
    [ENV.trace]: path.resolve(ref.file),
    [ENV.replayRoot]: replayRoot,
    [ENV.why]: JSON.stringify(request),
    TZ: header.timeZone,
  };
  delete env[ENV.dir];
  const nodeArgs = [`--require=${preloadPath()}`, ...header.execArgv.map(mapPath), ...scriptArgs];
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

  let answer: WhyAnswer;
  try {
    answer = JSON.parse(fs.readFileSync(out, 'utf8')) as WhyAnswer;
  } catch {
    const lines = stderr.split('\n');
    const thrown = lines.find((l) => /^\w*Error\b/.test(l));
    const reason = [...lines.filter((l) => l.startsWith('retrace:')), ...(thrown ? [`the program threw ${thrown}`] : [])].join(' ').replace(/retrace: /g, '').trim();
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new UsageError(`the provenance replay ended before answering (${status.signal ?? `exit ${status.code}`})${reason ? `: ${reason}` : ''}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (answer.error) throw new UsageError(answer.error);
  const divergence = stderr.split('\n').find((l) => l.startsWith('retrace: replay diverged'));
  if (divergence) answer.notes.push(`${divergence.replace(/^retrace: /, '')} (after the answer's hit; hits are counted up to there)`);
  describeOrigins(answer.lineage, trace);
  const result = {
    at: answer.at,
    expr: answer.expr,
    hit: answer.hit,
    hits: answer.hits,
    value: answer.value,
    complete: answer.complete,
    notes: answer.notes,
    lineage: answer.lineage,
    stats: { ...answer.stats, replayMs: elapsed },
  };
  if (opts.html) {
    fs.writeFileSync(opts.html, renderHtml(result));
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(formatText(result) + (opts.html ? `\nwrote ${opts.html}\n` : ''));
  return 0;
}
