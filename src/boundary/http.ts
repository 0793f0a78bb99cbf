// http: what HTTP servers and clients need beyond the socket layer. node:http and node:https run
// unchanged on net.ts and tls.ts: accepted sockets are parsed from 'data' events in both modes
// (their handles are marked consumed), keep-alive, pipelining and chunked bodies are bytes on the
// socket, the Date header Node writes into responses is masked before comparison (net.ts), and
// agents, fetch and undici connect through net.connect/tls.connect.
//
// This module adds:
// - the HTTP server's connection checker (headersTimeout/requestTimeout): its interval is a
//   recorded timer, and which connections it finds expired (a C++ clock) is a recorded call;
// - HTTP/2, which Node parses inside C++ from the socket's handle, out of reach of the socket
//   layer: using it warns while recording, and replay stops there with a clear message.
import Module, { syncBuiltinESMExports } from 'node:module';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { Shape } from '../core/trace/format.js';
import { engine, serverHooks, socketById, states } from './net.js';
import { builtin, disguise } from './wrap.js';

type AnyFn = (this: any, ...args: any[]) => any;

/** Whether Node already loaded one of its own modules (process.moduleLoadList, untyped). */
const loaded = (name: string) => ((process as unknown as { moduleLoadList?: string[] }).moduleLoadList ?? []).includes(name);

const HTTP2_ENTRY_POINTS = ['connect', 'createServer', 'createSecureServer'] as const;

export const httpBoundary: Boundary = {
  name: 'http',
  install(e: Engine) {
    installConnectionChecker(e);
    installHttp2Guard(e);
  },
};

function installConnectionChecker(e: Engine): void {
  // Loaded before the timers boundary (by preloaded tooling), the server's interval is Node's
  // own and runs live in both modes: then its findings are not recorded either.
  if (loaded('NativeModule _http_server')) return;
  const ch = e.channel('http.connectionsExpired', Shape.Call);
  let patched = false;
  serverHooks.push((server: any) => {
    if (patched) return;
    process.nextTick(() => {
      const symbol = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections');
      if (patched || !symbol || !server[symbol]) return;
      patched = true;
      const proto = Object.getPrototypeOf(server[symbol]);
      const expired: AnyFn = proto.expired;
      proto.expired = disguise(function (this: unknown, headersTimeout: number, requestTimeout: number) {
        if (engine.passthrough) return expired.call(this, headersTimeout, requestTimeout);
        if (engine.recording) {
          let parsers: any[] = [];
          engine.call(ch, [headersTimeout, requestTimeout], () => {
            parsers = expired.call(this, headersTimeout, requestTimeout);
            return parsers.map((p) => states.get(p?.socket)?.id ?? -1);
          });
          return parsers;
        }
        const ids = engine.call(ch, [headersTimeout, requestTimeout], () => []) as number[];
        return ids.map((id) => socketById(id)?.parser).filter(Boolean);
      }, expired);
    });
  });
}

function installHttp2Guard(e: Engine): void {
  const registerHooks = (Module as unknown as { registerHooks?: (hooks: object) => unknown }).registerHooks;
  let done = false;
  const guard = () => {
    if (done) return;
    done = true;
    const http2 = builtin('node:http2');
    let warned = false;
    for (const name of HTTP2_ENTRY_POINTS) {
      const original: AnyFn = http2[name];
      if (typeof original !== 'function') continue;
      http2[name] = disguise(function (this: unknown, ...args: unknown[]) {
        if (engine.passthrough) return original.apply(this, args);
        if (e.replaying) {
          return engine.diverge(`HTTP/2 (http2.${name}) is not supported by retrace yet: its traffic was not recorded, so the replay cannot go past this point`);
        }
        if (!warned) {
          warned = true;
          real.writeSync(2, `retrace: warning: HTTP/2 (http2.${name}) is not recorded by retrace yet; a replay of this recording will stop here\n`);
        }
        return original.apply(this, args);
      }, original);
    }
    syncBuiltinESMExports();
  };
  if (loaded('NativeModule http2')) return guard();
  registerHooks?.({
    resolve(specifier: string, context: unknown, nextResolve: (s: string, c: unknown) => { url: string }) {
      const result = nextResolve(specifier, context);
      if (!done && result.url === 'node:http2') guard();
      return result;
    },
  });
}
