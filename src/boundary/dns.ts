// dns: name resolution (node:dns, node:dns/promises): lookup, lookupService, resolve*, reverse,
// and Resolver instances of both APIs (servers, local address, cancel).
//
// Intercepted below the public API, at the C++ binding (lib/dns.js, lib/internal/dns/*.js):
// - every lookup of the callback and promise APIs calls `getaddrinfo` of the cares_wrap binding
//   (dns.js reads it from the binding object at call time; internal/dns/promises.js destructures
//   it when it loads, which is after this module patched it), lookupService calls `getnameinfo`;
// - every resolve* and reverse, of any Resolver, callback or promise, including the default
//   resolver's functions that dns.js binds at load (`dns.resolve4` is a bound method) and the
//   `resolveMap` that Resolver#resolve dispatches through, calls `this._handle.queryA(req, name)`
//   and friends on a ChannelWrap; so do getServers/setServers/setLocalAddress/cancel.
// Each asynchronous operation is a request whose delivery is what C++ hands to `req.oncomplete`
// (the raw status, addresses, records, TTLs). Replay makes no query: it calls the same
// `req.oncomplete` with the recorded arguments in the recorded turn, so Node's own JavaScript
// builds the results and the errors (DNSException: `code`, `errno`, `syscall`, `hostname`,
// message) exactly as it did. Lookups of IP literals and empty names never reach the binding
// (Node answers them itself, on nextTick): nothing to record.
//
// Lookups Node makes inside an intercepted socket operation (net.connect, tls.connect, http
// agents) run while the engine is in passthrough: the socket layer records their outcome as the
// socket's `lookup` event, and replay never makes them. A server's `listen(port, 'localhost')`
// and a dgram socket's bind/send/connect to a name are the program's own lookups: recorded here
// in both modes.
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';
import { real } from '../core/originals.js';
import { disguise } from './wrap.js';

type AnyFn = (this: any, ...args: any[]) => any;

/** The binding dns.js and internal/dns/promises.js call; process.binding allows it and returns the same object. */
const cares = (process as unknown as { binding(name: string): any }).binding('cares_wrap');

/** The ChannelWrap methods of a Resolver's handle, by the record type the program asked for. */
const QUERIES: readonly (readonly [string, string])[] = [
  ['queryAny', 'ANY'], ['queryA', 'A'], ['queryAaaa', 'AAAA'], ['queryCaa', 'CAA'], ['queryCname', 'CNAME'],
  ['queryMx', 'MX'], ['queryNs', 'NS'], ['queryTlsa', 'TLSA'], ['queryTxt', 'TXT'], ['querySrv', 'SRV'],
  ['queryPtr', 'PTR'], ['queryNaptr', 'NAPTR'], ['querySoa', 'SOA'],
];

let engine: Engine;
/** The engine while replaying (null while recording): what the recording holds next. */
let replayer: Engine | null = null;

/** Servers the program gave each Resolver handle (host:port), part of what its queries are checked against. */
const serversOf = new WeakMap<object, string[]>();

function serverName([, host, port]: [number, string, number]): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  return port && port !== 53 ? `${shown}:${port}` : shown;
}

/** What a query is checked against beyond its name: the TTL option and the servers set by the program. */
function queryOptions(handle: object, req: any): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (req.ttl) options.ttl = true;
  const servers = serversOf.get(handle);
  if (servers) options.servers = servers;
  return options;
}

/**
 * One asynchronous binding operation. Record: the request, then the real call with `req.oncomplete`
 * wrapped to deliver what C++ passes it; a failure to start (a non-zero return) is delivered at
 * once, as a number. Replay: the recorded start failure is returned, or `req.oncomplete` runs with
 * the recorded arguments when the recording delivers them.
 */
function dispatch(channel: number, key: unknown, req: any, live: () => number): number {
  if (engine.recording) {
    const id = engine.request(channel, key);
    const oncomplete: AnyFn = req.oncomplete;
    req.oncomplete = function oncompleteRecorded(this: unknown, ...args: unknown[]) {
      engine.deliver(id, args);
      return oncomplete.apply(this, args);
    };
    const err = engine.unobserved(live);
    if (err) {
      req.oncomplete = oncomplete;
      engine.deliver(id, err);
    }
    return err;
  }
  // A mismatch report names the program's line from the stack, which runs deep through Node's
  // promise API (createResolverPromise, the Promise executor) before it reaches the program.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = Math.max(stackTraceLimit, 30);
  let id: number;
  try {
    id = engine.request(channel, key);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  let startError = 0;
  engine.expect(id, (payload) => {
    if (typeof payload === 'number') startError = payload;
    else (req.oncomplete as AnyFn).apply(req, payload as unknown[]);
  });
  const next = replayer?.peek();
  if (next?.kind === 'deliver' && next.reqId === id && typeof next.payload === 'number') engine.deliverIfNext(id);
  return startError;
}

export const dnsBoundary: Boundary = {
  name: 'dns',
  install(e: Engine) {
    engine = e;
    replayer = e.replaying ? e : null;
    if ((process as unknown as { moduleLoadList?: string[] }).moduleLoadList?.includes('NativeModule internal/dns/promises')) {
      // Loaded by preloaded tooling before us, dns.promises holds the unpatched getaddrinfo.
      real.writeSync(2, `retrace: warning: node:dns/promises was loaded before retrace started; its lookup() and lookupService() run live ${e.recording ? 'and unrecorded' : 'in replay'}\n`);
    }
    installLookups(e);
    installResolvers(e);
  },
};

function installLookups(e: Engine): void {
  const lookupCh = e.channel('dns.lookup', Shape.Request);
  const lookupServiceCh = e.channel('dns.lookupService', Shape.Request);
  const orderNames: Record<number, string> = {
    [cares.DNS_ORDER_VERBATIM]: 'verbatim',
    [cares.DNS_ORDER_IPV4_FIRST]: 'ipv4first',
    [cares.DNS_ORDER_IPV6_FIRST]: 'ipv6first',
  };

  const getaddrinfo: AnyFn = cares.getaddrinfo;
  cares.getaddrinfo = disguise(function (this: unknown, req: any, hostname: string, family: number, hints: number, order: number) {
    if (engine.passthrough) return getaddrinfo.call(this, req, hostname, family, hints, order);
    const key = [hostname, family, hints, orderNames[order] ?? order];
    return dispatch(lookupCh, key, req, () => getaddrinfo.call(this, req, hostname, family, hints, order));
  }, getaddrinfo);

  const getnameinfo: AnyFn = cares.getnameinfo;
  cares.getnameinfo = disguise(function (this: unknown, req: any, address: string, port: number) {
    if (engine.passthrough) return getnameinfo.call(this, req, address, port);
    return dispatch(lookupServiceCh, [address, port], req, () => getnameinfo.call(this, req, address, port));
  }, getnameinfo);
}

function installResolvers(e: Engine): void {
  const resolveCh = e.channel('dns.resolve', Shape.Request);
  const reverseCh = e.channel('dns.reverse', Shape.Request);
  const getServersCh = e.channel('dns.getServers', Shape.Call);
  const setServersCh = e.channel('dns.setServers', Shape.Call);
  const setLocalAddressCh = e.channel('dns.setLocalAddress', Shape.Call);
  const cancelCh = e.channel('dns.cancel', Shape.Call);
  const proto = cares.ChannelWrap.prototype;

  const method = (name: string, make: (original: AnyFn) => AnyFn) => {
    const original: AnyFn | undefined = proto[name];
    if (typeof original !== 'function') return; // a query type this Node version does not have
    Object.defineProperty(proto, name, { value: disguise(make(original), original), writable: true, enumerable: true, configurable: true });
  };

  for (const [binding, rrtype] of QUERIES) {
    method(binding, (original) =>
      function (this: object, req: any, name: string) {
        if (engine.passthrough) return original.call(this, req, name);
        return dispatch(resolveCh, [rrtype, name, queryOptions(this, req)], req, () => original.call(this, req, name));
      },
    );
  }
  method('getHostByAddr', (original) =>
    function (this: object, req: any, address: string) {
      if (engine.passthrough) return original.call(this, req, address);
      return dispatch(reverseCh, [address, queryOptions(this, req)], req, () => original.call(this, req, address));
    },
  );

  // The servers a resolver uses come from this machine's resolv.conf unless the program sets
  // them: reading them is a recorded call; setting them is checked, and not done in replay.
  method('getServers', (original) =>
    function (this: object) {
      if (engine.passthrough) return original.call(this);
      return engine.call(getServersCh, [serversOf.get(this) ?? null], () => original.call(this));
    },
  );
  method('setServers', (original) =>
    function (this: object, servers: [number, string, number][]) {
      if (engine.passthrough) return original.call(this, servers);
      const names = Array.isArray(servers) ? servers.map(serverName) : [];
      const err = engine.call(setServersCh, [names], () => original.call(this, servers)) as number;
      if (err === 0) serversOf.set(this, names);
      return err;
    },
  );
  method('setLocalAddress', (original) =>
    function (this: object, ipv4: string, ipv6?: string) {
      if (engine.passthrough) return original.call(this, ipv4, ipv6);
      return engine.call(setLocalAddressCh, [ipv4, ipv6 ?? null], () => original.call(this, ipv4, ipv6));
    },
  );
  method('cancel', (original) =>
    function (this: object) {
      if (engine.passthrough) return original.call(this);
      // The cancelled queries complete later, from the event loop, with ECANCELLED: recorded deliveries.
      return engine.call(cancelCh, [serversOf.get(this) ?? null], () => original.call(this));
    },
  );
}
