// realms: the other JavaScript realms a program creates with vm.createContext. Each has its own
// Math and Date, which read the clock and the random source without passing through this realm's
// patches. jest runs every test file in such a context (jest-environment-node), so test code's
// Math.random() and Date.now() went unrecorded and differed in replay. A new context gets the same
// patches as the main realm, on its own Math and Date, recording on the same channels.
//
// Covered: vm.createContext (what jest and most sandboxes call), vm.runInNewContext and
// Script#runInNewContext (which create their context inside lib/vm.js, so they are rebuilt on the
// patched createContext). Not yet: the realm's performance and crypto (docs/boundaries.md).
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { patchMathRandom } from './random.js';
import { patchedDate } from './time.js';
import { builtin, disguise } from './wrap.js';

type AnyFn = (...args: any[]) => any;

export const realmsBoundary: Boundary = {
  name: 'realms',
  install(engine: Engine) {
    const vm = builtin<typeof import('node:vm')>('node:vm');
    const createContext = vm.createContext as AnyFn;
    let warned = false;
    (vm as { createContext: AnyFn }).createContext = disguise(function createContext_(this: unknown, ...args: unknown[]) {
      const context = createContext.apply(this, args);
      try {
        patchRealm(engine, vm, context);
      } catch (err) {
        if (!warned) {
          warned = true;
          real.writeSync(2, `retrace: warning: a vm context's clock and random source could not be covered (${(err as Error).message}); ${engine.recording ? 'this recording will not replay faithfully' : 'replay may diverge'}\n`);
        }
      }
      return context;
    }, createContext) as typeof vm.createContext;
    // runInNewContext makes its context with lib/vm.js's own reference to createContext: make it
    // here through the patched export, then run the code in it.
    const contextFor = (contextObject: unknown, options: unknown): import('node:vm').Context => {
      const opts: Record<string, unknown> = {};
      if (options && typeof options === 'object') {
        const o = options as Record<string, unknown>;
        for (const [from, to] of CONTEXT_OPTIONS) if (o[from] !== undefined) opts[to] = o[from];
      }
      return vm.createContext((contextObject ?? {}) as import('node:vm').Context, opts);
    };
    const runInContext = vm.runInContext;
    const runInNewContext = vm.runInNewContext;
    vm.runInNewContext = disguise(function runInNewContext_(code: string, contextObject?: unknown, options?: unknown) {
      return runInContext(code, contextFor(contextObject, options), options as never);
    }, runInNewContext) as typeof vm.runInNewContext;
    const scriptRunInNewContext = vm.Script.prototype.runInNewContext;
    vm.Script.prototype.runInNewContext = disguise(function runInNewContext_(this: import('node:vm').Script, contextObject?: unknown, options?: unknown) {
      return this.runInContext(contextFor(contextObject, options), options as never);
    } as AnyFn, scriptRunInNewContext) as typeof scriptRunInNewContext;
  },
};

/** runInNewContext's options that shape the context it makes, and createContext's names for them. */
const CONTEXT_OPTIONS: [string, string][] = [
  ['contextName', 'name'],
  ['contextOrigin', 'origin'],
  ['contextCodeGeneration', 'codeGeneration'],
  ['microtaskMode', 'microtaskMode'],
];

function patchRealm(engine: Engine, vm: typeof import('node:vm'), context: object): void {
  // The realm's own global: an expression evaluated in it is the only way to reach its intrinsics.
  const realmGlobal = engine.unobserved(() => vm.runInContext('globalThis', context as import('node:vm').Context)) as typeof globalThis;
  if (realmGlobal === globalThis || realmGlobal.Math === Math) return;
  patchMathRandom(engine, realmGlobal.Math);
  realmGlobal.Date = patchedDate(engine, realmGlobal.Date);
}
