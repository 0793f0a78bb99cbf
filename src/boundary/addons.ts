// addons: native addons (`.node` files) run machine code retrace cannot see into. Every addon the
// process loads is listed in the recording (with the files its module loader read, for `retrace
// info` and `retrace pack`), and record and replay each warn once per addon: no boundary records
// what it does, so a replay runs it live, where its values may differ and it may touch files or
// devices. Node loads every addon through process.dlopen (require's '.node' extension calls it),
// so that is where they are seen.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';

type Dlopen = (module: object, filename: string, ...rest: unknown[]) => void;

/** The package an addon belongs to (`better-sqlite3`, `@node-rs/bcrypt`), or its file name outside node_modules. */
export function addonName(filename: string): string {
  const parts = filename.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at >= 0 && at + 1 < parts.length - 1) {
    const first = parts[at + 1]!;
    return first.startsWith('@') && at + 2 < parts.length - 1 ? `${first}/${parts[at + 2]}` : first;
  }
  return path.basename(filename);
}

export const addonsBoundary: Boundary = {
  name: 'addons',
  install(engine: Engine) {
    const dlopen = (process as unknown as { dlopen?: Dlopen }).dlopen;
    if (typeof dlopen !== 'function') return;
    const seen = new Set<string>();
    const patched: Dlopen = function (this: unknown, module: object, filename: string, ...rest: unknown[]) {
      const result = dlopen.call(this, module, filename, ...rest);
      try {
        noteAddon(engine, seen, String(filename));
      } catch {
        // Listing an addon never stops the program from loading it.
      }
      return result;
    };
    Object.defineProperty(process, 'dlopen', { value: patched, writable: true, configurable: true, enumerable: true });
  },
};

function noteAddon(engine: Engine, seen: Set<string>, filename: string): void {
  const file = path.resolve(filename);
  if (seen.has(file)) return;
  seen.add(file);
  if (engine.recording) {
    // Listed with the files the module loader read (the modules boundary skips `.node` files).
    // Node's readFileSync opens the file through the patched fs exports: not the program's read.
    try {
      const bytes = engine.unobserved(() => real.readFileSync(file)) as Buffer;
      engine.noteModule({ url: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), dependency: true });
    } catch {
      // not readable as a file: nothing to list
    }
  }
  const name = addonName(file);
  const consequence = engine.recording
    ? 'a replay runs it live: values may differ and it may touch files or devices'
    : 'this replay runs it live: values may differ from the recording and it may touch files or devices';
  try {
    real.writeSync(2, `retrace: warning: native addon ${name} (${file}) has no boundary; ${consequence}\n`);
  } catch {
    // stderr closed: nowhere to say it
  }
}
