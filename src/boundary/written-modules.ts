// Modules the program wrote itself, loaded in replay. Build tools write a file and import it at once
// (vite bundles vitest.config.ts into node_modules/.vite-temp/…mjs, imports it and deletes it; a
// test runner's parent writes transformed sources its worker imports). Replay performs none of
// those writes, and module loading reads the real disk, so the import would fail where it worked.
// When a module is not on disk, its source comes from the recording: the last write of that path
// (writeFile in any form, followed through renames) in any process of the recording folder.
import Module from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { TraceFile } from '../core/trace/reader.js';
import { TRACE_FILE_PATTERN } from '../runtime/paths.js';

const WRITES = /^fs\.(promises\.)?writeFile(Sync)?$/;
const RENAMES = /^fs\.(promises\.)?rename(Sync)?$/;

type Hooks = {
  resolve?: (specifier: string, context: { parentURL?: string }, next: (s: string, c: unknown) => { url: string; format?: string }) => unknown;
  load?: (url: string, context: unknown, next: (url: string, c: unknown) => unknown) => unknown;
};

export function serveWrittenModules(engine: Engine): void {
  const trace = engine.trace;
  if (!trace) return;
  const registerHooks = (Module as unknown as { registerHooks?: (hooks: Hooks) => unknown }).registerHooks;
  if (!registerHooks) return;
  let written: Map<string, Buffer | string> | null = null;
  /** The recorded content of a file the program wrote at this path (a path of this replay). */
  const contentOf = (file: string): Buffer | string | undefined => {
    written ??= engine.unobserved(() => collectWrites(path.dirname(trace.path)));
    return written.get(engine.recordedPath(file));
  };
  const exists = (file: string) => engine.unobserved(() => real.existsSync(file));
  registerHooks({
    resolve(specifier, context, next) {
      try {
        return next(specifier, context);
      } catch (err) {
        const file = candidatePath(specifier, context.parentURL);
        if (file && !exists(file) && contentOf(file) !== undefined) return { url: pathToFileURL(file).href, shortCircuit: true };
        throw err;
      }
    },
    load(url, context, next) {
      if (url.startsWith('file:')) {
        const file = fileURLToPath(url);
        if (!exists(file)) {
          const source = contentOf(file);
          if (source !== undefined) return { format: formatOf(file, context), source, shortCircuit: true };
        }
      }
      return next(url, context);
    },
  });
}

function candidatePath(specifier: string, parentURL: string | undefined): string | null {
  try {
    if (specifier.startsWith('file:')) return fileURLToPath(specifier);
    if (path.isAbsolute(specifier)) return specifier;
    if ((specifier.startsWith('./') || specifier.startsWith('../')) && parentURL?.startsWith('file:')) {
      return path.resolve(path.dirname(fileURLToPath(parentURL)), specifier);
    }
  } catch {
    // not a file specifier
  }
  return null;
}

function formatOf(file: string, context: unknown): string {
  const ext = path.extname(file);
  if (ext === '.mjs') return 'module';
  if (ext === '.cjs') return 'commonjs';
  if (ext === '.json') return 'json';
  const asked = (context as { format?: string } | null)?.format;
  return typeof asked === 'string' ? asked : 'module';
}

/** Last content written at each path, by every process of the recording (renames followed). */
function collectWrites(dir: string): Map<string, Buffer | string> {
  const out = new Map<string, Buffer | string>();
  let names: string[] = [];
  try {
    names = (real.readdirSync(dir) as string[]).filter((n) => TRACE_FILE_PATTERN.test(n));
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      for (const ev of TraceFile.open(path.join(dir, name)).events()) {
        if (ev.kind === 'deliver' || ev.kind === 'value') continue;
        const args = ev.args as unknown[];
        if (!Array.isArray(args) || typeof args[0] !== 'string') continue;
        if (WRITES.test(ev.channel.name) && (typeof args[1] === 'string' || Buffer.isBuffer(args[1]))) {
          out.set(args[0], args[1]);
        } else if (RENAMES.test(ev.channel.name) && typeof args[1] === 'string' && out.has(args[0])) {
          out.set(args[1], out.get(args[0])!);
        }
      }
    } catch {
      // a trace that cannot be read past some point: what was read still counts
    }
  }
  return out;
}
