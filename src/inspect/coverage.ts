// How often each line of the program ran in a recording: one replay with V8's precise block
// coverage on (Node's NODE_V8_COVERAGE: call counts, block granularity, written by Node itself when
// the process ends, also through process.exit or a divergence), then each line's count is the count
// of the innermost covered range that holds the line's first token. Block coverage counts every
// execution of every block exactly; nothing is sampled. Compiled code (tsc with source maps) is
// counted in the JavaScript V8 ran and shown at the original lines through the map on disk.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { tokenizer } from 'acorn';
import { loadSourceMap, scriptPath, sourceMappingUrlOf, SourceMapIndex } from './location.js';

/** A covered range of a script: UTF-16 offsets into its source, and how many times it ran. */
interface CoverageRange {
  startOffset: number;
  endOffset: number;
  count: number;
}

export interface ScriptCoverage {
  /** The script's file. */
  file: string;
  ranges: CoverageRange[];
}

/** What one replay did: how it ended, what retrace said, and the coverage of the program's own scripts. */
export interface CoveredReplay {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The replay's own `retrace:` lines (a divergence report, a stall, a truncated recording). */
  messages: string[];
  /** The program's stderr, last 4 KiB (an uncaught exception it printed, as the recorded run did). */
  stderrTail: string;
  scripts: ScriptCoverage[];
  elapsedMs: number;
}

/** Runs the replay `{ args, env, cwd }` with block coverage on; keeps the coverage of `keep`'s scripts. */
export async function replayWithCoverage(run: { args: string[]; env: NodeJS.ProcessEnv; cwd: string }, keep: (file: string) => boolean): Promise<CoveredReplay> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retrace-coverage-'));
  try {
    const started = Date.now();
    const child = spawn(process.execPath, run.args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...run.env, NODE_V8_COVERAGE: dir }, cwd: run.cwd });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
    });
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve({ code: c, signal: s }));
    });
    const scripts = new Map<string, ScriptCoverage>();
    for (const name of fs.readdirSync(dir)) {
      if (!name.endsWith('.json')) continue;
      let report: { result: { url: string; functions: { ranges: CoverageRange[] }[] }[] };
      try {
        report = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
      } catch {
        continue; // a report cut short (the process was killed while writing it)
      }
      for (const script of report.result) {
        const file = scriptPath(script.url);
        if (!file || !keep(file)) continue;
        const ranges = script.functions.flatMap((f) => f.ranges);
        const seen = scripts.get(file);
        if (seen) seen.ranges.push(...ranges);
        else scripts.set(file, { file, ranges });
      }
    }
    return {
      exitCode: code,
      signal,
      messages: stderr.split('\n').filter((l) => l.startsWith('retrace:')),
      stderrTail: stderr.slice(-4096),
      scripts: [...scripts.values()],
      elapsedMs: Date.now() - started,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One line of a source file with its hit count: null when no code starts on it. */
export interface LineHits {
  line: number;
  count: number | null;
  text: string;
}

/** The count of the innermost range holding `offset`; null when no range does (code never compiled). */
function countAt(ranges: CoverageRange[], offset: number): number | null {
  let best: CoverageRange | null = null;
  for (const r of ranges) {
    if (r.startOffset <= offset && offset < r.endOffset && (!best || r.endOffset - r.startOffset < best.endOffset - best.startOffset)) best = r;
  }
  return best ? best.count : null;
}

/**
 * The offset (UTF-16, as V8 counts) of the first token of each line of `text`; -1 for lines with
 * none (blank, comments, TypeScript types). `export` and `default` are passed over: a declaration's
 * range (a function's) starts after them.
 */
export function firstTokens(text: string, typescript: boolean): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  const first = new Array<number>(starts.length).fill(-1);
  const modifierOnly = new Array<boolean>(starts.length).fill(false);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  try {
    let source = text;
    if (typescript) {
      // Node runs .ts files with their types replaced by blanks: positions stay, tokens are JavaScript.
      const strip = (module as unknown as { stripTypeScriptTypes?: (code: string, options?: object) => string }).stripTypeScriptTypes;
      if (!strip) throw new Error('no type stripping in this Node.js');
      // It warns once that it is experimental: not a thing to tell the user of a read-only tool.
      const warn = process.emitWarning;
      process.emitWarning = () => {};
      try {
        source = strip(text, { mode: 'strip' });
      } finally {
        process.emitWarning = warn;
      }
    }
    for (const token of tokenizer(source, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true, allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true })) {
      const line = lineOf(token.start);
      const modifier = token.type.keyword === 'export' || token.type.keyword === 'default';
      if (first[line] === -1 || (modifierOnly[line] && !modifier)) {
        first[line] = token.start;
        modifierOnly[line] = modifier;
      }
    }
  } catch {
    // Not JavaScript acorn reads (JSX, TypeScript that needs more than stripping, such as parameter
    // properties): lines that are not blank or comments, after `export`.
    first.fill(-1);
    starts.forEach((s, i) => {
      const m = /^([ \t]*(?:export[ \t]+(?:default[ \t]+)?)?)(?!\/\/|\/\*|\*|[\r\n])\S/.exec(text.slice(s, starts[i + 1] ?? text.length));
      if (m) first[i] = s + m[1]!.length;
    });
  }
  return first;
}

/**
 * Each line of `file` with the number of times it ran, from the coverage of the replay. The file is
 * a script V8 ran (JavaScript, or TypeScript through Node's type stripping), or a source that a
 * script's source map on disk names. Returns null when no covered script is or maps to the file.
 */
export function lineHits(file: string, scripts: ScriptCoverage[]): LineHits[] | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const counts = new Array<number | null>(lines.length).fill(null);
  let found = false;
  const add = (i: number, n: number | null) => {
    if (n === null) return;
    counts[i] = (counts[i] ?? 0) + n;
  };
  const tokens = firstTokens(text, /\.(m|c)?tsx?$/.test(file));
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const direct = scripts.find((s) => path.resolve(s.file) === file);
  if (direct) {
    found = true;
    tokens.forEach((offset, i) => {
      if (offset >= 0) add(i, countAt(direct.ranges, offset) ?? 0);
    });
  } else {
    for (const script of scripts) {
      let compiled: string;
      try {
        compiled = fs.readFileSync(script.file, 'utf8');
      } catch {
        continue;
      }
      const url = sourceMappingUrlOf(compiled);
      const loaded = url ? loadSourceMap(url, script.file) : null;
      if (!loaded) continue;
      let index: SourceMapIndex;
      try {
        index = new SourceMapIndex(loaded.map, loaded.location);
      } catch {
        continue;
      }
      const source = index.sourceIndex(file);
      if (source < 0) continue;
      found = true;
      const starts = [0];
      for (let i = 0; i < compiled.length; i++) if (compiled.charCodeAt(i) === 10) starts.push(i + 1);
      for (let i = 0; i < lines.length; i++) {
        if (tokens[i]! < 0) continue;
        // Where the line's first token was compiled to (its first mapped position from there on).
        const at = index.generated(source, i + 1, tokens[i]! - lineStarts[i]! + 1, 0) ?? index.generated(source, i + 1, null, 0);
        if (!at) continue;
        add(i, countAt(script.ranges, (starts[at.at.line] ?? 0) + at.at.column) ?? 0);
      }
    }
  }
  if (!found) return null;
  return lines.map((t, i) => ({ line: i + 1, count: counts[i]!, text: t.replace(/\r$/, '') }));
}
