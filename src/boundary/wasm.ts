// wasm: WebAssembly's asynchronous compile and instantiate. Their results are deterministic (replay
// compiles the same bytes again) but they finish whenever V8's compile threads do, and meanwhile the
// event loop goes on: sockets are read and connections accepted before the program's `await`
// resumes. Each completion is a delivery, so replay resumes the program in its recorded turn.
//
// The case that found it: Node 22's fetch (undici 6) compiles its HTTP parser with
// `await WebAssembly.compile(...)` on its first connection. Under load, requests arrived during
// the compile; replay resumed the fetch as soon as its compile finished, before those requests, and
// diverged. (Node 24's undici compiles synchronously.)
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';
import { disguise } from './wrap.js';
import { currentStack } from '../core/own-stack.js';

type AnyFn = (...args: any[]) => any;
/** The global WebAssembly namespace (the project's TypeScript lib has no WebAssembly types). */
type WasmNamespace = Record<string, AnyFn> & { Module: AnyFn };

/** What the program passed, checked in replay: the size of the bytes, or that it was a compiled module. */
function sourceKey(wasm: WasmNamespace, source: unknown): unknown {
  if (ArrayBuffer.isView(source)) return source.byteLength;
  if (source instanceof ArrayBuffer) return source.byteLength;
  if (source instanceof wasm.Module) return 'module';
  return null;
}

/** Modules compiled by unobserved code (loaders, preloaded tooling). */
const unobservedModules = new WeakSet<object>();

/**
 * Whether Node's module loader is compiling for itself: older Node 22 releases parse CommonJS
 * imported from ESM with cjs-module-lexer's WebAssembly build, initialised asynchronously.
 */
function calledByModuleLoader(): boolean {
  const stack = currentStack(Error.stackTraceLimit);
  return stack.includes('node:internal/modules/esm/translators') || stack.includes('node:internal/deps/cjs-module-lexer');
}

const ASYNC_API = ['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming'] as const;

export const wasmBoundary: Boundary = {
  name: 'wasm',
  install(engine: Engine) {
    const wasm = (globalThis as unknown as { WebAssembly?: WasmNamespace }).WebAssembly;
    if (!wasm) return;
    for (const name of ASYNC_API) {
      const original = wasm[name];
      if (typeof original !== 'function') continue;
      const ch = engine.channel(`wasm.${name}`, Shape.Request);
      const method = disguise(function (this: unknown, ...args: unknown[]) {
        if (engine.passthrough || unobservedModules.has(args[0] as object) || calledByModuleLoader()) {
          const result = original.apply(this, args) as Promise<unknown>;
          // Instantiating a module compiled unobserved continues unobserved work (tsx's bundled
          // es-module-lexer compiles while it loads, before the program, and instantiates later).
          if (name === 'compile' || name === 'compileStreaming') result.then((m) => unobservedModules.add(m as object), () => {});
          return result;
        }
        const reqId = engine.request(ch, name.endsWith('Streaming') ? [] : [sourceKey(wasm, args[0])]);
        const live = engine.unobserved(() => original.apply(this, args) as Promise<unknown>);
        if (engine.recording) {
          const mark = () => engine.deliver(reqId, null);
          return live.then(
            (v) => (mark(), v),
            (e: unknown) => (mark(), Promise.reject(e)),
          );
        }
        // Replay: the real work finishes whenever it does; the program sees it in its recorded turn,
        // and until then the sequencer waits for it rather than reporting the program idle.
        return new Promise((resolve, reject) => {
          const done = engine.realWork();
          const settleInTurn = (ok: boolean, value: unknown) => {
            done();
            engine.expect(reqId, () => (ok ? resolve(value) : reject(value)));
            engine.deliverIfNext(reqId);
          };
          live.then(
            (v) => settleInTurn(true, v),
            (e: unknown) => settleInTurn(false, e),
          );
        });
      }, original);
      Object.defineProperty(wasm, name, { value: method, writable: true, configurable: true, enumerable: true });
    }
  },
};
