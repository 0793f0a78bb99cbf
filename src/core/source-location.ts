// Finds the program's own source line in a stack: the first frame that is neither retrace's own
// code nor Node's internals. Node applies source maps to stacks when they are enabled (tsx and
// --enable-source-maps do), and type stripping keeps .ts positions, so frames name the .ts file.
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const ownRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function isOwnOrInternal(file: string): boolean {
  if (file.startsWith('node:') || !file.includes('/') ) return true;
  const p = file.startsWith('file://') ? fileURLToPath(file) : file;
  return p.startsWith(ownRoot + path.sep);
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
    frames.push({ file: file.startsWith('file://') ? fileURLToPath(file) : file, line: Number(m[2]), column: Number(m[3]) });
  }
  return frames;
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
