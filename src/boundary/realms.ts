// realms: the other JavaScript realms a program creates with vm.createContext. Each has its own
// Math and Date, which read the clock and the random source without passing through this realm's
// patches. jest runs every test file in such a context (jest-environment-node), so test code's
// Math.random() and Date.now() went unrecorded and differed in replay. A new context gets the same
// patches as the main realm, on its own Math and Date, recording on the same channels.
//
// Covered: vm.createContext (what jest and most sandboxes call). Not yet: vm.runInNewContext and
// Script#runInNewContext, which create their context inside lib/vm.js without going through the
// exports object, and the realm's performance and crypto (docs/boundaries.md).
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
  },
};

function patchRealm(engine: Engine, vm: typeof import('node:vm'), context: object): void {
  // The realm's own global: an expression evaluated in it is the only way to reach its intrinsics.
  const realmGlobal = engine.unobserved(() => vm.runInContext('globalThis', context as import('node:vm').Context)) as typeof globalThis;
  if (realmGlobal === globalThis || realmGlobal.Math === Math) return;
  patchMathRandom(engine, realmGlobal.Math);
  realmGlobal.Date = patchedDate(engine, realmGlobal.Date);
}
