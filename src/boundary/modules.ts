// modules: the loading of the program's own code is not a boundary crossing. Neither is what
// preloaded tooling does before the program starts (tsx's loader, APM agents from node_modules):
// interception starts with the first module of the program's own, or its main module. Node's CommonJS
// loader reads sources through the public fs functions, so interception is suspended from
// Module#load until the module body starts running (Module#_compile). The sources of the user's
// modules are hashed, so replay can warn when the code changed since the recording.
import { createHash } from 'node:crypto';
import Module from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { packageRoot } from '../runtime/paths.js';
import { serveWrittenModules } from './written-modules.js';

interface LoaderModule {
  load(filename: string): void;
  _compile(content: string, filename: string, ...rest: unknown[]): unknown;
}

/** retrace's own compiled modules (loaded into the program by `retrace print`): never the program's. */
const ownModules = pathToFileURL(path.join(packageRoot, 'dist')).href + '/';
const isUserFile = (url: string) => url.startsWith('file:') && !url.includes('/node_modules/') && !url.startsWith(ownModules);
const sha256 = (source: string | ArrayBufferView) => createHash('sha256').update(typeof source === 'string' ? source : new Uint8Array(source.buffer, source.byteOffset, source.byteLength)).digest('hex');

export const modulesBoundary: Boundary = {
  name: 'modules',
  install(engine: Engine) {
    const proto = (Module as unknown as { prototype: LoaderModule }).prototype;
    const load = proto.load;
    const compile = proto._compile;
    const seen = new Set<string>();
    const endPreloads = preloadZone(engine);
    const note = (url: string, source: string | ArrayBufferView | undefined | null) => {
      if (endPreloads.active && (isUserFile(url) || endPreloads.isMain(url))) endPreloads.end();
      if (source == null || seen.has(url)) return;
      if (!isUserFile(url)) {
        // Files of the program's dependencies are listed too (for `retrace pack`), when recording.
        if (engine.recording && url.startsWith('file:') && !url.startsWith(ownModules)) {
          seen.add(url);
          engine.noteModule({ url, sha256: sha256(source), dependency: true });
        }
        return;
      }
      seen.add(url);
      const hash = { url, sha256: sha256(source) };
      engine.noteModule(hash);
    };

    proto.load = function (this: LoaderModule, filename: string) {
      const result = engine.unobserved(() => load.call(this, filename));
      // JSON files are not compiled: their file is read here for its hash (listed as a dependency:
      // not code whose lines replay or `print` check). Native addons are listed by the addons boundary.
      if (engine.recording && !/\.([cm]?[jt]sx?|node)$/.test(filename)) {
        const url = pathToFileURL(filename).href;
        if (!seen.has(url) && !url.startsWith(ownModules)) {
          try {
            // Node's readFileSync opens the file through the (patched) fs exports: not the program's read.
            const hash = sha256(engine.unobserved(() => real.readFileSync(filename)) as Buffer);
            seen.add(url);
            engine.noteModule({ url, sha256: hash, dependency: true });
          } catch {
            // not a file (a virtual module of a loader): nothing to copy
          }
        }
      }
      return result;
    };
    proto._compile = function (this: LoaderModule, content: string, filename: string, ...rest: unknown[]) {
      note(pathToFileURL(filename).href, content);
      return engine.observed(() => compile.call(this, content, filename, ...rest));
    };

    // A load hook sees ES module sources (their reads through fs are recognised by the fs module).
    const registerHooks = (Module as unknown as { registerHooks?: (hooks: object) => unknown }).registerHooks;
    registerHooks?.({
      load(url: string, context: unknown, nextLoad: (url: string, context: unknown) => { source?: string | ArrayBufferView | null; format?: string }) {
        const result = nextLoad(url, context);
        if (result.format !== 'commonjs') note(url, result.source);
        return result;
      },
    });
    if (engine.replaying) serveWrittenModules(engine);
  },
};

/** Suspends interception from now until the program's own code starts loading. */
function preloadZone(engine: Engine): { active: boolean; end(): void; isMain(url: string): boolean } {
  const script = process.argv[1];
  if (!script) return { active: false, end() {}, isMain: () => false }; // node -e, stdin, REPL: the program is already running
  let main = path.resolve(script);
  try {
    main = String(real.realpathSync(main));
  } catch {
    // `node app` without an extension: matched by prefix below
  }
  const resume = engine.suspend();
  const zone = {
    active: true,
    end() {
      zone.active = false;
      resume();
    },
    isMain: (url: string) => url.startsWith('file:') && fileURLToPath(url).startsWith(main),
  };
  return zone;
}
