// From a location as people write it (`src/orders.ts:42`, `app.js:10:5`) to where the debugger must
// stop: the file checked against the recorded program, and for compiled code (tsc with source maps,
// tsx, bundlers) the generated positions found through the source map. Shared by `retrace print`
// and anything else that stops at a source line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** A location the user cannot mean: a one-line message for `retrace: ...`. */
export class LocationError extends Error {}

/** A position in a source file as people count: lines and columns from 1. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number | null;
}

/** A position in a script as V8 counts: lines and columns from 0. */
export interface ScriptPosition {
  line: number;
  column: number;
}

const SOURCE_EXTENSIONS = /\.(m|c)?(j|t)sx?$/;

/**
 * Parses FILE:LINE[:COL] (FILE relative to `cwd`), and checks that the file exists and has that line.
 * The file part is taken from the right, so paths holding colons work.
 */
export function parseLocation(spec: string, cwd = process.cwd()): SourcePosition {
  const m = /^(.+?):(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new LocationError(`--at takes FILE:LINE or FILE:LINE:COLUMN (lines from 1), not "${spec}"`);
  const file = path.resolve(cwd, m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]!);
  const line = Number(m[2]);
  const column = m[3] === undefined ? null : Number(m[3]);
  if (line < 1) throw new LocationError(`lines count from 1: ${spec}`);
  if (column !== null && column < 1) throw new LocationError(`columns count from 1: ${spec}`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LocationError(`no file ${m[1]} (looked for ${file})`);
    if (code === 'EISDIR') throw new LocationError(`${m[1]} is a folder; --at takes a source file and a line`);
    throw new LocationError(`cannot read ${m[1]}: ${(err as Error).message}`);
  }
  const lines = text.split('\n').length;
  if (line > lines) throw new LocationError(`${m[1]} has ${lines} lines; there is no line ${line}`);
  return { file, line, column };
}

/** `src/orders.ts:42` relative to cwd when inside it. */
export function displayLocation(pos: SourcePosition, cwd = process.cwd()): string {
  const rel = path.relative(cwd, pos.file);
  const shown = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : pos.file;
  return `${shown}:${pos.line}${pos.column !== null ? `:${pos.column}` : ''}`;
}

/** A file path from a script URL as V8 names it: `file:///a/b.js` (ES modules) or `/a/b.js` (CommonJS). */
export function scriptPath(url: string): string | null {
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url.replace(/[?#].*$/, ''));
    } catch {
      return null;
    }
  }
  return path.isAbsolute(url) ? url : null;
}

/** A regular expression matching the URLs V8 may give the script of `file` (both forms). */
export function scriptUrlRegex(file: string): string {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `^(${escape(pathToFileURL(file).href)}|${escape(file)})([?#].*)?$`;
}

// ---- source maps ----

export interface RawSourceMap {
  version: number;
  sources: (string | null)[];
  sourceRoot?: string;
  mappings: string;
  sections?: unknown;
}

/** A source map as a table: for each source, original line → generated positions. */
export class SourceMapIndex {
  /** Absolute paths of the map's sources (null when a source is not a file). */
  readonly sources: (string | null)[];
  private readonly segments: { source: number; line: number; column: number; genLine: number; genColumn: number }[] = [];

  constructor(map: RawSourceMap, mapLocation: string) {
    const base = mapLocation.startsWith('data:') ? null : path.dirname(mapLocation);
    this.sources = map.sources.map((s) => {
      if (s === null) return null;
      const withRoot = map.sourceRoot ? (map.sourceRoot.endsWith('/') ? map.sourceRoot + s : `${map.sourceRoot}/${s}`) : s;
      if (withRoot.startsWith('file://')) return scriptPath(withRoot);
      if (path.isAbsolute(withRoot)) return withRoot;
      return base ? path.resolve(base, withRoot) : null;
    });
    this.decode(map.mappings);
  }

  /** The index of `file` among the sources, or -1. */
  sourceIndex(file: string): number {
    return this.sources.findIndex((s) => s !== null && path.resolve(s) === file);
  }

  /**
   * Where original `line` (from 1; `column` from 1 or null for the whole line) of source `index`
   * starts in the generated code: the earliest generated position mapped from it. When the line
   * has no code of its own, the next line within `lookahead` that does; `line` says which.
   */
  generated(index: number, line: number, column: number | null, lookahead = 0): { line: number; at: ScriptPosition } | null {
    for (let l = line; l <= line + lookahead; l++) {
      let best: ScriptPosition | null = null;
      for (const s of this.segments) {
        if (s.source !== index || s.line !== l - 1) continue;
        if (column !== null && l === line && s.column < column - 1) continue;
        if (!best || s.genLine < best.line || (s.genLine === best.line && s.genColumn < best.column)) best = { line: s.genLine, column: s.genColumn };
      }
      if (best) return { line: l, at: best };
    }
    return null;
  }

  /**
   * The original position of generated `line`/`column` (from 0): the source, line and column
   * (from 1) of the last mapping at or before it on that line, or the line's first when none is.
   */
  original(line: number, column: number): { source: string | null; line: number; column: number } | null {
    let before: (typeof this.segments)[number] | null = null;
    let after: (typeof this.segments)[number] | null = null;
    for (const s of this.segments) {
      if (s.genLine !== line) continue;
      if (s.genColumn <= column) {
        if (!before || s.genColumn >= before.genColumn) before = s;
      } else if (!after || s.genColumn < after.genColumn) after = s;
    }
    const found = before ?? after;
    return found ? { source: this.sources[found.source] ?? null, line: found.line + 1, column: found.column + 1 } : null;
  }

  private decode(mappings: string): void {
    let genLine = 0;
    let genColumn = 0;
    let source = 0;
    let line = 0;
    let column = 0;
    let i = 0;
    const values: number[] = [];
    while (i < mappings.length) {
      const ch = mappings[i]!;
      if (ch === ';') {
        genLine++;
        genColumn = 0;
        i++;
        continue;
      }
      if (ch === ',') {
        i++;
        continue;
      }
      values.length = 0;
      while (i < mappings.length && mappings[i] !== ',' && mappings[i] !== ';') {
        let value = 0;
        let shift = 0;
        let digit: number;
        do {
          digit = BASE64.indexOf(mappings[i++]!);
          if (digit < 0) throw new Error('bad source map mappings');
          value += (digit & 31) << shift;
          shift += 5;
        } while (digit & 32);
        values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      }
      genColumn += values[0] ?? 0;
      if (values.length >= 4) {
        source += values[1]!;
        line += values[2]!;
        column += values[3]!;
        this.segments.push({ source, line, column, genLine, genColumn });
      }
    }
  }
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The source map a script names (its `sourceMappingURL`): inline (data:) or a file next to it. */
export function loadSourceMap(sourceMapURL: string, scriptFile: string | null): { map: RawSourceMap; location: string } | null {
  try {
    if (sourceMapURL.startsWith('data:')) {
      const comma = sourceMapURL.indexOf(',');
      const meta = sourceMapURL.slice(5, comma);
      const body = sourceMapURL.slice(comma + 1);
      const text = meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
      return { map: JSON.parse(text) as RawSourceMap, location: scriptFile ?? 'data:' };
    }
    const mapFile = sourceMapURL.startsWith('file://') ? fileURLToPath(sourceMapURL) : scriptFile ? path.resolve(path.dirname(scriptFile), sourceMapURL) : null;
    if (!mapFile) return null;
    return { map: JSON.parse(fs.readFileSync(mapFile, 'utf8')) as RawSourceMap, location: mapFile };
  } catch {
    return null;
  }
}

/** The `sourceMappingURL` comment at the end of a script's text, if any. */
export function sourceMappingUrlOf(text: string): string | null {
  const m = /\/\/[#@]\s*sourceMappingURL=(\S+)\s*$/.exec(text.slice(-100_000).trimEnd());
  return m ? m[1]! : null;
}

// ---- where to stop ----

/** Where the debugger stops for a location, decided before the program runs. */
export interface BreakpointPlan {
  position: SourcePosition;
  /** How the location reads in messages. */
  display: string;
  /** Breakpoints by script URL, set before any code runs (the file itself, or compiled files whose map on disk names it). */
  byUrl: { urlRegex: string; line: number; column: number; script: string }[];
  /** The line actually used, when the given line has no code and the next one does. */
  movedTo: number | null;
}

/**
 * Plans the breakpoints for `pos` in a program whose own modules were `modules` (file paths at
 * replay). A JavaScript file is stopped in directly; another source (TypeScript) is found through
 * the source maps of the program's compiled modules on disk, or of scripts as they load. Throws
 * LocationError when the file is not part of the program.
 */
export function planBreakpoints(pos: SourcePosition, modules: string[], cwd = process.cwd(), execArgv: string[] = []): BreakpointPlan {
  const display = displayLocation(pos, cwd);
  const plan: BreakpointPlan = { position: pos, display, byUrl: [], movedTo: null };
  const isJs = /\.(m|c)?js$/.test(pos.file);
  const loaded = new Set(modules.map((m) => path.resolve(m)));
  if (isJs && (loaded.has(pos.file) || !inProgramCheckPossible(pos.file, modules))) {
    plan.byUrl.push({ urlRegex: scriptUrlRegex(pos.file), line: pos.line - 1, column: pos.column !== null ? pos.column - 1 : 0, script: pos.file });
    return plan;
  }
  // Compiled modules whose source map on disk names the file.
  for (const module of loaded) {
    if (!/\.(m|c)?js$/.test(module)) continue;
    let text: string;
    try {
      text = fs.readFileSync(module, 'utf8');
    } catch {
      continue;
    }
    const url = sourceMappingUrlOf(text);
    if (!url) continue;
    const loadedMap = loadSourceMap(url, module);
    if (!loadedMap) continue;
    let index: SourceMapIndex;
    try {
      index = new SourceMapIndex(loadedMap.map, loadedMap.location);
    } catch {
      continue;
    }
    const source = index.sourceIndex(pos.file);
    if (source < 0) continue;
    const found = index.generated(source, pos.line, pos.column, 0) ?? index.generated(source, pos.line, pos.column, 3);
    if (!found) {
      throw new LocationError(`${display} has no code in the compiled program (${path.relative(cwd, module) || module}); pick a line with a statement`);
    }
    if (found.line !== pos.line) plan.movedTo = found.line;
    plan.byUrl.push({ urlRegex: scriptUrlRegex(module), line: found.at.line, column: found.at.column, script: module });
  }
  if (plan.byUrl.length > 0) return plan;
  if (loaded.has(pos.file) || !inProgramCheckPossible(pos.file, modules)) {
    const loader = execArgv.find((a) => /tsx|ts-node|@swc|esbuild|babel|--loader|--experimental-loader/.test(a));
    if (loader) {
      // tsx and other loaders compile in memory and reprint the code: its lines are not the file's.
      throw new LocationError(
        `${display} is compiled in memory by a loader (${loader}), whose line numbers differ from the file's; stopping in it is not supported yet: ` +
          'compile with tsc --sourceMap and record the compiled program, or run the .ts file with Node.js\'s own type stripping (node file.ts), which keeps every line in place',
      );
    }
    // Loaded as it is (JavaScript, or TypeScript through Node's type stripping, which keeps lines
    // and columns where they were).
    plan.byUrl.push({ urlRegex: scriptUrlRegex(pos.file), line: pos.line - 1, column: pos.column !== null ? pos.column - 1 : 0, script: pos.file });
    return plan;
  }
  const shown = [...loaded].slice(0, 6).map((m) => path.relative(cwd, m) || m);
  throw new LocationError(
    `${path.relative(cwd, pos.file) || pos.file} is not part of the recorded program: no module it loaded is this file or was compiled from it` +
      (shown.length ? ` (it loaded ${shown.join(', ')}${loaded.size > shown.length ? ', …' : ''})` : ''),
  );
}

/**
 * Whether the recording's module list can tell if `file` is part of the program: it lists the
 * program's own modules, not those under node_modules, and is empty for recordings without it.
 */
function inProgramCheckPossible(file: string, modules: string[]): boolean {
  return modules.length > 0 && !file.split(path.sep).includes('node_modules') && SOURCE_EXTENSIONS.test(file);
}
