// Finds the program's own source line in a stack: the first frame that is neither retrace's own
// code nor Node's internals. Node applies source maps to stacks when they are enabled (tsx and
// --enable-source-maps do), and type stripping keeps .ts positions, so frames name the .ts file.
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { real } from './originals.js';

// Our compiled code, and its TypeScript sources (stacks name those when the program enables source maps).
const compiledRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ownRoots = [compiledRoot, path.resolve(compiledRoot, '..', '..', 'src')].map((r) => r + path.sep);

function isOwnOrInternal(file: string): boolean {
  if (file.startsWith('node:') || !file.includes('/')) return true;
  const p = file.startsWith('file://') ? fileURLToPath(file) : file;
  return ownRoots.some((root) => p.startsWith(root));
}

const FRAME = /^\s*at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/;

export interface SourceFrame {
  file: string;
  line: number;
  column: number;
}

export function programFrames(stack: string | undefined): SourceFrame[] {
  const frames: SourceFrame[] = [];
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const file = m[1]!;
    if (isOwnOrInternal(file)) continue;
    const frame = { file: file.startsWith('file://') ? fileURLToPath(file) : file, line: Number(m[2]), column: Number(m[3]) };
    frames.push(originalPosition(frame));
  }
  return frames;
}

const MAPPING_URL = /\/\/[#@] sourceMappingURL=(\S+)\s*$/;

/**
 * Where a compiled frame came from, through the file's source map (`tsc --sourceMap`, bundlers).
 * Node applies source maps to stacks only with --enable-source-maps, which would also change how
 * the program's own stack traces print in replay; reading the map here changes nothing else.
 */
function originalPosition(frame: SourceFrame): SourceFrame {
  if (!/\.[cm]?js$/.test(frame.file)) return frame;
  try {
    const code = String(real.readFileSync(frame.file, 'utf8'));
    const url = MAPPING_URL.exec(code.slice(-4096))?.[1];
    if (!url) return frame;
    let mapText: string;
    let base = path.dirname(frame.file);
    if (url.startsWith('data:')) {
      const comma = url.indexOf(',');
      const data = url.slice(comma + 1);
      mapText = url.slice(0, comma).endsWith(';base64') ? Buffer.from(data, 'base64').toString('utf8') : decodeURIComponent(data);
    } else {
      const mapFile = url.startsWith('file:') ? fileURLToPath(url) : path.resolve(base, url);
      mapText = String(real.readFileSync(mapFile, 'utf8'));
      base = path.dirname(mapFile);
    }
    const map = JSON.parse(mapText) as { sourceRoot?: string };
    const origin = new SourceMap(map as never).findOrigin(frame.line, frame.column) as { fileName?: string; lineNumber?: number; columnNumber?: number };
    if (!origin.fileName || origin.lineNumber === undefined) return frame;
    const source = origin.fileName.startsWith('file:') ? fileURLToPath(origin.fileName) : path.resolve(base, map.sourceRoot ?? '', origin.fileName);
    return { file: source, line: origin.lineNumber, column: origin.columnNumber ?? 1 };
  } catch {
    return frame; // no readable map: the compiled position is still right
  }
}

/**
 * `file:line:col` of the program's call site, relative to cwd when inside it, with the first frame
 * outside node_modules when that differs; null when no program code is on the stack.
 */
export function programLocation(stack: string | undefined, cwd = process.cwd()): string | null {
  const frames = programFrames(stack);
  if (frames.length === 0) return null;
  const show = (f: SourceFrame) => {
    const rel = path.relative(cwd, f.file);
    return `${rel.startsWith('..') ? f.file : rel}:${f.line}:${f.column}`;
  };
  const first = frames[0]!;
  const user = frames.find((f) => !f.file.includes(`${path.sep}node_modules${path.sep}`));
  if (user && user !== first) return `${show(first)} (called from ${show(user)})`;
  return show(first);
}
