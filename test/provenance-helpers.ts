// Test support for `retrace why`: records a small program, asks `why --json` about a value at a
// marked line, and checks the lineage tree against the contract in the provenance notes
// (origins are identified by kind plus a piece of their detail; "includes" walks the whole tree,
// "excludes" means no node anywhere has that origin).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { cli, describeRun, record, retrace, workdir, writeFiles, type Run } from './helpers.js';

export interface Origin {
  kind: string;
  event?: number;
  detail: string;
}

export interface LineageNode {
  value: string;
  op: string;
  at?: string;
  via?: number;
  imprecise?: boolean;
  origin?: Origin;
  inputs?: LineageNode[];
}

export interface WhyResult {
  at: string;
  expr: string;
  hit: number;
  hits: number;
  value: string;
  complete: boolean;
  notes: string[];
  /** What the replay traced: the hit's request or connection (narrowed), or the whole process. */
  scope?: { traced: 'narrowed' | 'process'; reason?: string; place?: { connection: number; request: number | null } | null; connections?: number; requests?: number };
  stats?: { nodes: number; replayMs: number; passes: { mode: string; ms: number }[] };
  lineage: LineageNode;
}

/**
 * The 1-based line of the one line of `source` carrying the marker comment `// @name`
 * (`// @at` by default), so tests never hard-code line numbers.
 */
export function lineOf(source: string, marker = 'at'): number {
  const pattern = new RegExp(`//\\s*@${marker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`);
  const lines = source.split('\n');
  const found = lines.flatMap((text, i) => (pattern.test(text) ? [i + 1] : []));
  if (found.length !== 1) throw new Error(`expected one line marked // @${marker}, found ${found.length}`);
  return found[0]!;
}

export interface Recorded {
  dir: string;
  rec: Run;
  /** The program's last stdout line, parsed as JSON (programs print their values that way). */
  printed: Record<string, unknown>;
}

/**
 * Writes `files` into a fresh folder and records `command` there (default `node app.mjs`);
 * fails the test if the program did not exit 0 or its last line of output is not JSON.
 */
export function recordProgram(
  files: Record<string, string>,
  opts: { command?: string[]; env?: Record<string, string>; input?: string; timeout?: number; dir?: string } = {},
): Recorded {
  const dir = opts.dir ?? workdir('retrace-why-');
  writeFiles(dir, files);
  const rec = record(dir, opts.command ?? ['node', 'app.mjs'], { env: opts.env, input: opts.input, timeout: opts.timeout });
  assert.equal(rec.status, 0, `the program runs under record\n${describeRun(rec)}`);
  return { dir, rec, printed: lastJsonLine(rec) };
}

/** The last non-empty stdout line of a run, parsed as JSON. */
export function lastJsonLine(run: Run): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`the program's last output line is not JSON\n${describeRun(run)}`);
  }
}

/** Environment for a program started by the test itself: ours, minus retrace and test-runner variables. */
export function programEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('RETRACE_')) delete env[key];
  delete env.NODE_TEST_CONTEXT;
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`;
  return { ...env, ...extra };
}

/**
 * `retrace record` of `node <file>` without blocking the test process, for programs that talk
 * to a server the test itself runs.
 */
export function recordAsync(dir: string, file: string, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Run> {
  const child = spawn(process.execPath, [cli, 'record', '--force', '--out', 'recording', '--', process.execPath, file], {
    cwd: dir,
    env: programEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(killer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

export interface WhyOptions {
  hit?: number | 'last';
  /** The recording folder, relative to cwd. */
  recording?: string;
  timeout?: number;
  scope?: 'auto' | 'narrow' | 'all';
  /** --control: conditions in the lineage. */
  control?: boolean;
}

/** The arguments of `retrace why` for one question. */
export function whyArgs(at: string, expr: string, opts: WhyOptions = {}): string[] {
  const args = ['why', opts.recording ?? 'recording', '--at', at, '--expr', expr, '--json'];
  if (opts.hit !== undefined) args.push('--hit', String(opts.hit));
  if (opts.scope !== undefined) args.push('--scope', opts.scope);
  if (opts.control) args.push('--control');
  return args;
}

/** `retrace <args>` in cwd without blocking the test process (so several questions run at once). */
export function retraceAsync(cwd: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  const child = spawn(process.execPath, [cli, ...args], { cwd, env: programEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const killer = setTimeout(() => {
    stderr += `\n(the test killed it after ${timeoutMs} ms)`;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(killer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** Parses what `retrace why --json` printed; fails with the command's output when it did not succeed. */
function parseWhy(args: string[], r: Run): WhyResult {
  const command = `retrace ${args.join(' ')}`;
  if (r.status !== 0) assert.fail(`${command} failed\n${describeRun(r)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch (e) {
    assert.fail(`${command} did not print one JSON object (${(e as Error).message})\n${describeRun(r)}`);
  }
  assertWellFormed(parsed, command);
  return parsed;
}

/**
 * `retrace why <recording> --at AT --expr EXPR --json` in cwd, parsed; fails with the command's
 * status, stdout and stderr when it does not succeed or does not print one JSON object.
 */
export function why(cwd: string, at: string, expr: string, opts: WhyOptions = {}): WhyResult {
  const args = whyArgs(at, expr, opts);
  return parseWhy(args, retrace(cwd, args, { timeout: opts.timeout ?? 60_000 }));
}

/** `why` without blocking, so that a test's questions about one recording run side by side. */
export async function whyAsync(cwd: string, at: string, expr: string, opts: WhyOptions = {}): Promise<WhyResult> {
  const args = whyArgs(at, expr, opts);
  return parseWhy(args, await retraceAsync(cwd, args, opts.timeout ?? 60_000));
}

/** Checks the shape of a `why --json` answer against the contract. */
export function assertWellFormed(result: unknown, command = 'why'): asserts result is WhyResult {
  const r = result as Partial<WhyResult> | null;
  // The message is built only when a check fails: the answer printed at every check of every node
  // made this quadratic in the size of the tree.
  const check = (ok: unknown, what: string) => {
    if (!ok) assert.fail(`${what}\n${command} printed:\n${JSON.stringify(result, null, 2).slice(0, 4000)}`);
  };
  check(r && typeof r === 'object', 'an object');
  check(typeof r!.at === 'string', '"at" is a string');
  check(typeof r!.expr === 'string', '"expr" is a string');
  check(Number.isInteger(r!.hit) && r!.hit! >= 1, '"hit" is a 1-based number');
  check(Number.isInteger(r!.hits) && r!.hits! >= r!.hit!, '"hits" is a number ≥ hit');
  check(typeof r!.value === 'string', '"value" is a string');
  check(r!.value!.length <= 80, '"value" is abbreviated to 80 characters');
  check(typeof r!.complete === 'boolean', '"complete" is a boolean');
  check(Array.isArray(r!.notes) && r!.notes.every((n) => typeof n === 'string'), '"notes" is a list of strings');
  // Iterative: a lineage can be deep (a long chain of folded loop steps).
  const stack: [LineageNode, string][] = [[r!.lineage as LineageNode, 'lineage']];
  while (stack.length > 0) {
    const [node, where] = stack.pop()!;
    check(node && typeof node === 'object', `${where} is a node`);
    check(typeof node.value === 'string', `${where}.value is a string`);
    check(typeof node.op === 'string', `${where}.op is a string`);
    if (node.origin !== undefined) {
      check(typeof node.origin.kind === 'string', `${where}.origin.kind is a string`);
      check(typeof node.origin.detail === 'string', `${where}.origin.detail is a string`);
    }
    if (node.inputs !== undefined) {
      check(Array.isArray(node.inputs), `${where}.inputs is a list`);
      node.inputs.forEach((child, i) => stack.push([child, `${where}.inputs[${i}]`]));
    }
  }
}

/** Every node of the lineage tree, depth first. */
export function* nodes(node: LineageNode): Generator<LineageNode> {
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    yield n;
    for (const child of n.inputs ?? []) stack.push(child);
  }
}

/** Which origins a test looks for: a kind, and optionally a piece of the detail and a test of the node's value. */
export interface OriginMatcher {
  kind: string;
  /** A piece of origin.detail; with a list, every piece must be there. */
  detail?: string | RegExp | (string | RegExp)[];
  value?: (shown: string) => boolean;
  /** How the matcher reads in a failure message. */
  label?: string;
}

/** An environment variable read by the program. */
export function envVar(name: string): OriginMatcher {
  return { kind: 'env', detail: new RegExp(`(^|[^\\w])${name}([^\\w]|$)`), label: `env ${name}` };
}

/** A literal number in the program's source ("literal 100 at app.mjs:12"). */
export function literalNumber(n: number): OriginMatcher {
  return { kind: 'literal', detail: new RegExp(`(^|\\s)literal ${String(n).replace('.', '\\.')}(?![\\w.])`), label: `literal ${n}` };
}

/** One Math.random() result, recognised by the number it returned. */
export function randomResult(n: number): OriginMatcher {
  return { kind: 'random', detail: /Math\.random/, value: (shown) => Number(shown) === n, label: `Math.random() = ${n}` };
}

/** Whether a node's origin matches. */
export function matches(node: LineageNode, m: OriginMatcher): boolean {
  const o = node.origin;
  if (!o || o.kind !== m.kind) return false;
  const pieces = m.detail === undefined ? [] : Array.isArray(m.detail) ? m.detail : [m.detail];
  for (const piece of pieces) {
    if (typeof piece === 'string' ? !o.detail.includes(piece) : !piece.test(o.detail)) return false;
  }
  if (m.value && !m.value(node.value)) return false;
  return true;
}

function describeMatcher(m: OriginMatcher): string {
  return m.label ?? `${m.kind}${m.detail ? ` with detail ${String(m.detail)}` : ''}`;
}

/** The lineage as indented text, for failure messages. */
export function renderTree(result: WhyResult, maxLines = 200): string {
  const out: string[] = [`${result.expr} = ${result.value} at ${result.at} (hit ${result.hit} of ${result.hits}, complete ${result.complete})`];
  for (const note of result.notes) out.push(`note: ${note}`);
  const walk = (n: LineageNode, depth: number): void => {
    if (out.length > maxLines) return;
    const origin = n.origin ? ` [${n.origin.kind}${n.origin.event !== undefined ? ` #${n.origin.event}` : ''}: ${n.origin.detail}]` : '';
    out.push(`${'  '.repeat(depth)}${n.op} → ${n.value}${n.at ? ` @ ${n.at}` : ''}${n.imprecise ? ' (imprecise)' : ''}${origin}`);
    for (const child of n.inputs ?? []) walk(child, depth + 1);
  };
  walk(result.lineage, 1);
  if (out.length > maxLines) out.push('...');
  return out.join('\n');
}

/** The lineage has, somewhere, a node with this origin. */
export function assertIncludes(result: WhyResult, m: OriginMatcher): void {
  const found = [...nodes(result.lineage)].some((n) => matches(n, m));
  assert.ok(found, `the lineage of ${result.expr} must include ${describeMatcher(m)}:\n${renderTree(result)}`);
}

/** No node anywhere in the lineage has this origin. */
export function assertExcludes(result: WhyResult, m: OriginMatcher): void {
  const found = [...nodes(result.lineage)].filter((n) => matches(n, m));
  assert.equal(found.length, 0, `the lineage of ${result.expr} must not include ${describeMatcher(m)}:\n${renderTree(result)}`);
}

/** No node anywhere in the lineage shows a value containing `text` (a value that belongs elsewhere). */
export function assertNoValueContaining(result: WhyResult, text: string): void {
  const found = [...nodes(result.lineage)].filter((n) => n.value.includes(text));
  assert.equal(found.length, 0, `no node in the lineage of ${result.expr} may show a value containing ${JSON.stringify(text)}:\n${renderTree(result)}`);
}

/** The recorded events of the origins of `kind` in the lineage. */
export function originEvents(result: WhyResult, kind: string): Set<number> {
  const events = new Set<number>();
  for (const n of nodes(result.lineage)) if (n.origin?.kind === kind && n.origin.event !== undefined) events.add(n.origin.event);
  return events;
}

/** The shown value agrees with the value the program printed (util.inspect-like; strings may be quoted or not). */
export function assertShows(result: WhyResult, expected: unknown): void {
  const accepted = new Set([inspect(expected, { breakLength: Infinity }), JSON.stringify(expected)]);
  if (typeof expected === 'string') accepted.add(expected);
  assert.ok(
    accepted.has(result.value),
    `why shows ${result.expr} = ${result.value}; the program printed ${inspect(expected)}\n${renderTree(result)}`,
  );
}

export interface Expectation {
  /** The value the program printed for this expression. */
  value: unknown;
  includes?: OriginMatcher[];
  excludes?: OriginMatcher[];
}

/** Checks one answer against an expectation (value, completeness, included and excluded origins). */
export function checkAnswer(result: WhyResult, at: string, expr: string, expectation: Expectation): void {
  assert.match(result.at, new RegExp(`^${at.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(:\\d+)?$`), `why answers at the asked location\n${renderTree(result)}`);
  assert.equal(result.expr, expr);
  assertShows(result, expectation.value);
  assert.equal(result.complete, true, `a small program gets a complete answer\n${renderTree(result)}`);
  assert.ok((expectation.includes ?? []).length > 0, 'test defect: every case names an origin the lineage must include');
  for (const m of expectation.includes ?? []) assertIncludes(result, m);
  for (const m of expectation.excludes ?? []) assertExcludes(result, m);
}

/**
 * Asks `why` about `expr` at `file:line` and checks value, completeness, included and excluded
 * origins. An independent case must name at least one included origin, so that an empty lineage
 * cannot pass it.
 */
export function expectWhy(cwd: string, at: string, expr: string, expectation: Expectation, opts: WhyOptions = {}): WhyResult {
  const result = why(cwd, at, expr, opts);
  checkAnswer(result, at, expr, expectation);
  return result;
}

export interface Question extends Expectation {
  at: string;
  expr: string;
  hit?: number | 'last';
  /** Ask with --control. */
  control?: boolean;
}

/**
 * Asks all questions about one recording side by side and checks every answer; when some fail,
 * one error lists each failed question with its reason, so a run shows every gap at once.
 */
export async function expectWhys(cwd: string, questions: Question[]): Promise<WhyResult[]> {
  const settled = await Promise.allSettled(
    questions.map(async (q) => {
      const result = await whyAsync(cwd, q.at, q.expr, { hit: q.hit, control: q.control });
      checkAnswer(result, q.at, q.expr, q);
      return result;
    }),
  );
  const failures = settled.flatMap((s, i) =>
    s.status === 'rejected' ? [`--- ${questions[i]!.expr} at ${questions[i]!.at}${questions[i]!.hit ? ` hit ${questions[i]!.hit}` : ''}: ${(s.reason as Error).message}`] : [],
  );
  if (failures.length > 0) assert.fail(`${failures.length} of ${questions.length} questions failed\n${failures.join('\n')}`);
  return settled.map((s) => (s as PromiseFulfilledResult<WhyResult>).value);
}

/** Compiles `src/app.ts` in dir with the repository's TypeScript, with source maps, to `dist/app.js`. */
export function compileTypeScript(dir: string, repoRoot: string, extraFlags: string[] = []): void {
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(
    process.execPath,
    [tsc, '--sourceMap', '--strict', '--skipLibCheck', '--outDir', 'dist', '--target', 'es2022', '--module', 'commonjs', ...extraFlags, 'src/app.ts'],
    { cwd: dir, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, `tsc compiles the program\n${r.stdout}${r.stderr}`);
  assert.ok(fs.existsSync(path.join(dir, 'dist', 'app.js.map')), 'tsc wrote a source map');
}

/**
 * Runs `retrace why` under GNU time and returns the answer with the peak resident set of the
 * largest process in the tree (kilobytes), or undefined when /usr/bin/time is not there.
 */
export function whyMeasured(cwd: string, at: string, expr: string, timeoutMs: number): { run: Run; maxRssKb: number | undefined } {
  const args = [cli, ...whyArgs(at, expr)];
  const timed = fs.existsSync('/usr/bin/time');
  const r = timed
    ? spawnSync('/usr/bin/time', ['-f', 'retrace-test-maxrss-kb=%M', process.execPath, ...args], { cwd, env: programEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })
    : spawnSync(process.execPath, args, { cwd, env: programEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  const stderr = String(r.stderr);
  const m = /retrace-test-maxrss-kb=(\d+)/.exec(stderr);
  return {
    run: { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: stderr.replace(/^retrace-test-maxrss-kb=\d+\n?/m, '') },
    maxRssKb: m ? Number(m[1]) : undefined,
  };
}
