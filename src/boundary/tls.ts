// tls: TLS clients (tls.connect, which https and fetch use, including the upgrade of a connected
// socket with tls.connect({ socket }) that pg and mysql2 do) and TLS servers (tls.createServer,
// https.createServer), recorded as the plaintext the program sees.
//
// Record: a TLSSocket's handle is a TLSWrap that decrypts in C++ and hands plaintext to the same
// onread path as TCP, and takes plaintext from the same _writeGeneric: net.ts taps it like any
// handle. The handshake (`onhandshakedone`) and TLS errors (`onerror`) enter JavaScript through
// properties of the TLSWrap, tapped as they are assigned; the handshake delivery carries what the
// program can ask the socket afterwards (peer certificate chain, cipher, protocol, ALPN, verify
// error). getSession, getTLSTicket and exportKeyingMaterial are recorded calls.
//
// Replay needs no certificate and runs no TLS: a TLS socket is a net stand-in built as a TLSSocket
// (instanceof works) with TLSSocket's state, answering the TLS queries from the recording. The
// handshake delivery re-enacts Node's client verification, so the program's checkServerIdentity
// and rejectUnauthorized decide as they did. A TLS server's connection listener is replaced by one
// that layers such a stand-in on each accepted socket.
import { X509Certificate } from 'node:crypto';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { real } from '../core/originals.js';
import { Shape } from '../core/trace/format.js';
import {
  K, deliver, engine, expectOwn, makeStandIn, mark, net, rethrowIfRecorded, replayConnecting, serverHooks,
  socketDelivery, states, tapHandle, trackRecorded, newState, type SockState,
} from './net.js';
import { builtin, disguise } from './wrap.js';

type AnyFn = (this: any, ...args: any[]) => any;

const tls = builtin('node:tls');
const TLSSocket = tls.TLSSocket;
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** TLS state of a tracked socket (SockState.tls). */
interface TlsInfo {
  /** The options tls.connect worked with (client), or the server's (server side). */
  options: any;
  isServer: boolean;
  /** Replay: what the handshake delivery recorded. */
  snap: Snapshot | null;
  delivery(st: SockState, p: any[]): void;
}

interface Snapshot {
  alpn: string | false;
  servername: string | false | null;
  verifyError: Error | null;
  reused: boolean;
  cert: { chain: object[]; loop: number } | null;
  x509: boolean;
  own: object | null;
  cipher: unknown;
  protocol: unknown;
  ekey: unknown;
  finished: unknown;
  peerFinished: unknown;
  sigalgs: unknown;
  pending: boolean;
}

/** A certificate chain (detailed certificates link to their issuer, and a root to itself) as a list. */
function chainOf(cert: any): { chain: object[]; loop: number } | null {
  if (!cert || typeof cert !== 'object' || Object.keys(cert).length === 0) return null;
  const chain: object[] = [];
  const seen: any[] = [];
  let c = cert;
  while (c && typeof c === 'object' && !seen.includes(c)) {
    seen.push(c);
    const { issuerCertificate, ...rest } = c;
    chain.push(rest);
    c = issuerCertificate;
  }
  return { chain, loop: c && typeof c === 'object' ? seen.indexOf(c) : -1 };
}

const NULL_PROTO_FIELDS = ['subject', 'issuer', 'infoAccess'];

function certFrom(recorded: { chain: object[]; loop: number } | null, detailed: boolean): object {
  if (!recorded) return {};
  const certs = recorded.chain.map((c) => {
    const copy: any = { ...c };
    for (const f of NULL_PROTO_FIELDS) if (copy[f] && typeof copy[f] === 'object') copy[f] = Object.assign(Object.create(null), copy[f]);
    return copy;
  });
  if (!detailed) return certs[0];
  certs.forEach((c, i) => {
    if (i + 1 < certs.length) c.issuerCertificate = certs[i + 1];
  });
  if (recorded.loop >= 0) certs[certs.length - 1].issuerCertificate = certs[recorded.loop];
  return certs[0];
}

function attempt<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

/** Record: what the program can learn about the connection once the handshake is done. */
function snapshot(ssl: any, sock: any): Snapshot {
  const cert = chainOf(attempt(() => sock.getPeerCertificate(true)));
  return {
    alpn: attempt(() => ssl.getALPNNegotiatedProtocol()) ?? false,
    servername: attempt(() => ssl.getServername()),
    verifyError: attempt(() => ssl.verifyError()),
    reused: !!attempt(() => ssl.isSessionReused()),
    cert,
    // Not the handle's getPeerX509Certificate(): calling it here empties the certificate that
    // Node's own verification asks for next.
    x509: !!(cert?.chain[0] as { raw?: unknown } | undefined)?.raw,
    own: attempt(() => ssl.getCertificate()),
    cipher: attempt(() => ssl.getCipher()),
    protocol: attempt(() => ssl.getProtocol()),
    ekey: attempt(() => ssl.getEphemeralKeyInfo()),
    finished: attempt(() => ssl.getFinished()),
    peerFinished: attempt(() => ssl.getPeerFinished()),
    sigalgs: attempt(() => ssl.getSharedSigalgs?.()),
    pending: !!sock._newSessionPending,
  };
}

/** Record: the TLSWrap's onread (net.ts), and the handshake and error callbacks as Node assigns them. */
function tapTlsWrap(ssl: any, st: SockState): void {
  // HTTP servers then parse from 'data' events rather than inside C++.
  ssl._consumed = true;
  tapHandle(ssl, st);
  const hook = (name: string, before: (this: any, args: unknown[]) => void) => {
    let current = ssl[name];
    Object.defineProperty(ssl, name, {
      configurable: true,
      enumerable: false,
      get() {
        return typeof current !== 'function'
          ? current
          : function (this: any, ...args: unknown[]) {
              before.call(this, args);
              return current.apply(this, args);
            };
      },
      set(fn: unknown) {
        current = fn;
      },
    });
  };
  hook('onhandshakedone', function (this: any) {
    deliver(st.id, K.HS, snapshot(this, st.sock));
  });
  hook('onerror', function (this: any, args) {
    deliver(st.id, K.TLSERR, args[0]);
  });
}

/** tls.connect's own argument handling (normalizeConnectArgs): net's, with the TLS options merged in. */
function normalizeTlsArgs(args: any[]): [any, AnyFn | undefined] {
  const normalized = net._normalizeArgs(args);
  const options = normalized[0];
  if (args[1] !== null && typeof args[1] === 'object') Object.assign(options, args[1]);
  else if (args[2] !== null && typeof args[2] === 'object') Object.assign(options, args[2]);
  return [options, normalized[1] ?? undefined];
}

function alpnKey(protocols: unknown): unknown {
  if (Array.isArray(protocols)) return protocols.map((p) => (typeof p === 'string' ? p : Buffer.from(p as Uint8Array).toString('latin1')));
  if (protocols && ArrayBuffer.isView(protocols)) return Buffer.from(protocols.buffer, protocols.byteOffset, protocols.byteLength);
  return protocols ?? null;
}

function tlsKey(options: any, rawId: number | null): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  if (rawId !== null) key.socket = rawId;
  else if (options.path != null) key.path = String(options.path);
  else {
    key.host = options.host || 'localhost';
    key.port = options.port;
  }
  if (options.servername != null) key.servername = options.servername;
  if (options.ALPNProtocols != null) key.ALPNProtocols = alpnKey(options.ALPNProtocols);
  if (options.session != null) key.session = true;
  return key;
}

let pendingClient: SockState | null = null;
let warnedDirect = false;

export const tlsBoundary: Boundary = {
  name: 'tls',
  install(e: Engine) {
    const connectCh = e.channel('tls.connect', Shape.Request);
    const acceptedCh = e.channel('tls.accepted', Shape.Request);
    const getCh = e.channel('tls.get', Shape.Call);
    const connect: AnyFn = tls.connect;
    const proto = TLSSocket.prototype;
    const wrapHandle: AnyFn = proto._wrapHandle;
    const recorded = ['getSession', 'getTLSTicket', 'exportKeyingMaterial'] as const;

    if (e.recording) {
      tls.connect = disguise(function connectRecorded(this: unknown, ...args: any[]) {
        if (engine.passthrough) return connect.apply(this, args);
        const [options] = normalizeTlsArgs(args);
        const raw = options.socket ? states.get(options.socket) : undefined;
        const id = engine.request(connectCh, tlsKey(options, raw ? raw.id : options.socket ? -1 : null));
        mark();
        const st = newState(id, null, !options.socket);
        st.tls = { options, isServer: false, snap: null, delivery() {} } satisfies TlsInfo;
        pendingClient = st;
        let sock: any;
        try {
          sock = engine.unobserved(() => connect.apply(this, args));
        } catch (err) {
          deliver(id, K.THROW, err);
          throw err;
        } finally {
          pendingClient = null;
        }
        if (!st.sock) {
          st.sock = sock;
          states.set(sock, st);
        }
        return sock;
      }, connect);

      proto._wrapHandle = function _wrapHandle(this: any, wrap: any, ...rest: unknown[]) {
        const ssl = wrapHandle.call(this, wrap, ...rest);
        let st = states.get(this) ?? null;
        if (!st && pendingClient) {
          st = pendingClient;
          st.sock = this;
          states.set(this, st);
        } else if (!st && this._tlsOptions?.isServer && wrap && states.get(wrap)?.accepted) {
          // A TLS server's connection listener layering TLS on an accepted socket.
          st = trackRecorded(this, engine.request(acceptedCh, [states.get(wrap)!.id]), false);
          mark();
          st.accepted = true;
          st.tls = { options: this._tlsOptions, isServer: true, snap: null, delivery() {} } satisfies TlsInfo;
        }
        if (st) tapTlsWrap(ssl, st);
        else if (!engine.passthrough && !warnedDirect) {
          warnedDirect = true;
          real.writeSync(2, 'retrace: warning: a tls.TLSSocket built directly (not by tls.connect or a TLS server) is not recorded; a replay will stop here\n');
        }
        return ssl;
      };

      for (const name of recorded) {
        const original: AnyFn = proto[name];
        proto[name] = disguise(function (this: any, ...args: unknown[]) {
          const st = states.get(this);
          if (!st || engine.passthrough) return original.apply(this, args);
          return engine.call(getCh, [st.id, name, ...args], () => original.apply(this, args));
        }, original);
      }
      return;
    }

    // ---- replay ----
    const standInMethods = (st: SockState): Record<string, AnyFn> => {
      const snap = () => (st.tls as TlsInfo).snap;
      const whenOpen = <T>(value: () => T) => (st.open ? value() : null);
      return {
        getPeerCertificate: (detailed?: boolean) => (st.open ? certFrom(snap()?.cert ?? null, !!detailed) : null),
        getCertificate: () => whenOpen(() => snap()?.own ?? {}),
        getPeerX509Certificate: () => whenOpen(() => {
          const raw = (certFrom(snap()?.cert ?? null, false) as { raw?: Buffer }).raw;
          return raw ? new X509Certificate(raw) : undefined;
        }),
        getX509Certificate: () => whenOpen(() => {
          const raw = (snap()?.own as { raw?: Buffer } | null)?.raw;
          return raw ? new X509Certificate(raw) : undefined;
        }),
        getCipher: () => whenOpen(() => snap()?.cipher ?? null),
        getProtocol: () => whenOpen(() => snap()?.protocol ?? null),
        getEphemeralKeyInfo: () => whenOpen(() => snap()?.ekey ?? {}),
        isSessionReused: () => whenOpen(() => snap()?.reused ?? false),
        getFinished: () => whenOpen(() => snap()?.finished),
        getPeerFinished: () => whenOpen(() => snap()?.peerFinished),
        getSharedSigalgs: () => whenOpen(() => snap()?.sigalgs ?? []),
        setServername: () => undefined,
        setSession: () => undefined,
        setMaxSendFragment: () => true,
        enableTrace: () => undefined,
        setKeyCert: () => undefined,
        disableRenegotiation: () => undefined,
        renegotiate: (_options: unknown, callback?: AnyFn) => {
          if (typeof callback === 'function') process.nextTick(callback, new Error('TLS renegotiation is not supported in replay'));
          return false;
        },
        ...Object.fromEntries(recorded.map((name) => [name, (...args: unknown[]) => engine.call(getCh, [st.id, name, ...args], () => null)])),
      };
    };

    /** A TLSSocket that never had a TLSWrap: a net stand-in with TLSSocket's own state. */
    const makeTlsStandIn = (st: SockState, info: TlsInfo, raw: any, socketOptions: object): any => {
      const sock: any = Reflect.construct(net.Socket, [socketOptions], TLSSocket);
      st.tls = info;
      Object.assign(sock, {
        _tlsOptions: info.options,
        _secureEstablished: false,
        _securePending: false,
        _newSessionPending: false,
        _controlReleased: false,
        secureConnecting: true,
        _SNICallback: null,
        servername: null,
        alpnProtocol: null,
        authorized: false,
        authorizationError: null,
        encrypted: true,
        ssl: null,
      });
      makeStandIn(sock, st);
      for (const [name, fn] of Object.entries(standInMethods(st))) {
        Object.defineProperty(sock, name, { value: fn, writable: true, configurable: true, enumerable: false });
      }
      if (raw) {
        raw.on('close', () => sock.destroy());
        st.rawParent = raw;
      }
      sock.on('error', sock._tlsError);
      // TLSSocket#_init
      sock.server = info.options.server;
      sock._requestCert = !!info.options.requestCert || !info.isServer;
      sock._rejectUnauthorized = !!info.options.rejectUnauthorized;
      if (info.options.handshakeTimeout > 0) sock.setTimeout(info.options.handshakeTimeout, sock._handleTimeout);
      if (raw instanceof net.Socket) {
        sock._parent = raw;
        sock.connecting = raw.connecting;
        raw.once('connect', () => {
          sock.connecting = false;
          sock.emit('connect');
        });
      }
      if (raw) raw.on('error', (err: Error) => sock._emitTLSError(err));
      else sock.connecting = true;
      // initRead: data the raw socket had buffered went into the TLS engine.
      process.nextTick(() => {
        if (!st.open) return;
        if (raw?.readableLength) while (raw.read() !== null);
        sock.read(0);
      });
      return sock;
    };

    const finishInit = (st: SockState): boolean => {
      const sock = st.sock;
      const snap = (st.tls as TlsInfo).snap!;
      if (snap.pending || !st.open) return false;
      sock.alpnProtocol = snap.alpn;
      if (sock.servername === null) sock.servername = snap.servername;
      sock._secureEstablished = true;
      if (sock._tlsOptions.handshakeTimeout > 0) sock.setTimeout(0, sock._handleTimeout);
      sock.emit('secure');
      return true;
    };

    const tlsDelivery = (st: SockState, p: any[]): void => {
      const sock = st.sock;
      switch (p[0]) {
        case K.HS:
          (st.tls as TlsInfo).snap = p[2] as Snapshot;
          finishInit(st);
          return;
        case K.TLSERR: {
          const err = p[2] as Error;
          if (sock._hadError) return;
          sock._hadError = true;
          if (!sock._secureEstablished) {
            sock._closeAfterHandlingError = true;
            sock.destroy(err);
          } else if (sock._tlsOptions?.isServer && sock._rejectUnauthorized && /peer did not return a certificate/.test(err.message)) {
            sock.destroy();
          } else {
            sock._emitTLSError(err);
          }
          return;
        }
        case K.SESSION:
          sock.emit('session', p[2]);
          return;
      }
    };

    // ---- the client ----
    let warnedUnauthorized = false;
    let warnedIpServername = false;
    tls.connect = disguise(function connectReplayed(this: unknown, ...args: any[]) {
      if (engine.passthrough) return connect.apply(this, args);
      let [options, cb] = normalizeTlsArgs(args);
      const allowUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0';
      if (allowUnauthorized && !warnedUnauthorized) {
        warnedUnauthorized = true;
        process.emitWarning("Setting the NODE_TLS_REJECT_UNAUTHORIZED environment variable to '0' makes TLS connections and HTTPS requests insecure by disabling certificate verification.");
      }
      options = {
        rejectUnauthorized: !allowUnauthorized,
        ciphers: tls.DEFAULT_CIPHERS,
        checkServerIdentity: tls.checkServerIdentity,
        minDHSize: 1024,
        ...options,
      };
      if (!options.keepAlive) options.singleUse = true;
      const raw = options.socket ? states.get(options.socket) : undefined;
      const st = newState(engine.request(connectCh, tlsKey(options, raw ? raw.id : options.socket ? -1 : null)), null, !options.socket);
      const info: TlsInfo = {
        options: {
          ...options,
          rejectUnauthorized: options.rejectUnauthorized !== false,
          isServer: false,
          requestCert: true,
        },
        isServer: false,
        snap: null,
        delivery: tlsDelivery,
      };
      expectOwn(st.id, (p) => socketDelivery(st, p));
      rethrowIfRecorded(st);
      if (options.socket && !raw) {
        engine.diverge('tls.connect({ socket }) on a stream that is not a recorded socket is not supported by retrace yet');
      }
      const sock = makeTlsStandIn(st, info, options.socket ?? null, {
        allowHalfOpen: options.socket ? options.socket.allowHalfOpen : options.allowHalfOpen,
        manualStart: true,
        highWaterMark: options.highWaterMark,
        signal: options.signal,
        noDelay: options.noDelay,
        keepAlive: options.keepAlive,
        keepAliveInitialDelay: options.keepAliveInitialDelay,
      });
      options.rejectUnauthorized = options.rejectUnauthorized !== false;
      if (cb) sock.once('secureConnect', cb);
      if (!options.socket) {
        if (options.timeout) sock.setTimeout(options.timeout);
        sock.once('connect', sock._start);
        if (clientSocketChannel.hasSubscribers) engine.unobserved(() => clientSocketChannel.publish({ socket: sock }));
        replayConnecting(sock, st, options);
      }
      sock._releaseControl();
      if (options.servername && !warnedIpServername && net.isIP(options.servername)) {
        warnedIpServername = true;
        process.emitWarning('Setting the TLS ServerName to an IP address is not permitted by RFC 6066. This will be ignored in a future version.', 'DeprecationWarning', 'DEP0123');
      }
      sock.on('secure', function onConnectSecure(this: any) {
        const snap = info.snap!;
        const ekey = snap.ekey as { type?: string; size?: number } | null;
        if (ekey?.type === 'DH' && (ekey.size ?? 0) < options.minDHSize) {
          const err = Object.assign(new Error(`DH parameter size ${ekey.size} is less than ${options.minDHSize}`), { code: 'ERR_TLS_DH_PARAM_SIZE' });
          this.emit('error', err);
          this.destroy();
          return;
        }
        let verifyError: any = snap.verifyError;
        if (!verifyError && !snap.reused) {
          const host = options.servername || options.host || options.socket?._host || 'localhost';
          verifyError = options.checkServerIdentity(host, this.getPeerCertificate(true));
        }
        if (verifyError) {
          this.authorized = false;
          this.authorizationError = verifyError.code || verifyError.message;
          if (options.rejectUnauthorized !== false) {
            this.destroy(verifyError);
            return;
          }
        } else {
          this.authorized = true;
        }
        this.secureConnecting = false;
        this.emit('secureConnect');
        this.removeListener('end', onConnectEnd);
      });
      function onConnectEnd(this: any) {
        if (this._hadError) return;
        this._hadError = true;
        const error = Object.assign(new Error('Client network socket disconnected before secure TLS connection was established'), {
          code: 'ECONNRESET', path: options.path, host: options.host, port: options.port, localAddress: options.localAddress,
        });
        this.destroy(error);
      }
      sock.prependListener('end', onConnectEnd);
      return sock;
    }, connect);

    // A TLSSocket built directly (new tls.TLSSocket) would run real TLS over a stand-in.
    proto._wrapHandle = function _wrapHandle(this: any, ...args: unknown[]) {
      if (engine.passthrough) return wrapHandle.apply(this, args);
      return engine.diverge('new tls.TLSSocket() built by the program is not supported by retrace yet (use tls.connect or a TLS server)');
    };

    // ---- the server ----
    const kHandshakeTimeout = (server: any) => Object.getOwnPropertySymbols(server).find((s) => s.description === 'handshake-timeout');
    const kErrorEmitted = Symbol('error-emitted');
    serverHooks.push((server: any) => {
      if (!(server instanceof tls.Server)) return;
      const listeners = server.rawListeners('connection') as AnyFn[];
      const index = listeners.findIndex((l) => l.name === 'tlsConnectionListener');
      if (index < 0) return;
      server.removeAllListeners('connection');
      listeners[index] = function tlsConnectionListener(this: any, rawSocket: any) {
        const raw = states.get(rawSocket);
        const st = newState(engine.request(acceptedCh, [raw ? raw.id : -1]), null, false);
        st.accepted = true;
        const symbol = kHandshakeTimeout(this);
        const info: TlsInfo = {
          options: {
            isServer: true,
            server: this,
            requestCert: this.requestCert,
            rejectUnauthorized: this.rejectUnauthorized,
            handshakeTimeout: symbol ? this[symbol] : 120000,
            ALPNProtocols: this.ALPNProtocols,
            pauseOnConnect: this.pauseOnConnect,
          },
          isServer: true,
          snap: null,
          delivery: tlsDelivery,
        };
        expectOwn(st.id, (p) => socketDelivery(st, p));
        const sock = makeTlsStandIn(st, info, rawSocket, { allowHalfOpen: rawSocket.allowHalfOpen, pauseOnCreate: this.pauseOnConnect, manualStart: true });
        sock.on('secure', function onServerSocketSecure(this: any) {
          const snap = info.snap!;
          if (this._requestCert) {
            if (snap.verifyError) {
              this.authorizationError = (snap.verifyError as { code?: string }).code;
              if (this._rejectUnauthorized) this.destroy();
            } else if (NODE_MAJOR >= 24 && !snap.x509) {
              this.authorizationError = 'UNABLE_TO_GET_ISSUER_CERT';
              if (this._rejectUnauthorized) this.destroy();
            } else {
              this.authorized = true;
            }
          }
          if (!this.destroyed && this._releaseControl()) {
            this.secureConnecting = false;
            this._tlsOptions.server.emit('secureConnection', this);
          }
        });
        const onSocketTLSError = function (this: any, err: Error) {
          if (!this._controlReleased && !this[kErrorEmitted]) {
            this[kErrorEmitted] = true;
            this._tlsOptions.server.emit('tlsClientError', err, this);
          }
        };
        sock[kErrorEmitted] = false;
        sock.on('close', function onSocketClose(this: any, err: unknown) {
          if (err) return;
          if (!this._controlReleased && !this[kErrorEmitted]) {
            this[kErrorEmitted] = true;
            this._tlsOptions.server.emit('tlsClientError', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), this);
          }
        });
        sock.on('_tlsError', onSocketTLSError);
        sock.on('error', onSocketTLSError);
      };
      for (const l of listeners) server.on('connection', l);
    });
  },
};

const clientSocketChannel = builtin<typeof import('node:diagnostics_channel')>('node:diagnostics_channel').channel('net.client.socket');
