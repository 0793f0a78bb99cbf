// The channel catalog: what each family of recorded channels means to the tools that read a
// recording. Declared once here, read by `retrace show` (the timeline kind of a line), `retrace why`
// (the kind of origin a value read from the channel gets) and the socket decoders (the layout of a
// socket delivery's payload). A boundary that adds a family of channels adds one entry; a channel
// no entry names shows as `other` and gives no origin, which the catalog test reports.
//
// This module is data only: it loads no boundary, so the inspection tools can read it cheaply.

/** The kind of a timeline line (`retrace show --kind`); null: engine bookkeeping, shown only with --all. */
export type TimelineKind = 'time' | 'random' | 'crypto' | 'timer' | 'fs' | 'env' | 'process' | 'child' | 'dns' | 'net' | 'stdin' | 'os' | 'other';

/** The kind of origin `why` names for a value the program read from a channel. */
export type OriginKind = 'time' | 'random' | 'file' | 'stdin' | 'env' | 'other';

export interface ChannelFamily {
  /** What every channel name of the family starts with (`fs.`), or, with `exact`, the one channel name. */
  match: string;
  exact?: boolean;
  /** The boundary module (src/boundary/<module>.ts) that declares the channels. */
  module: string;
  timeline: TimelineKind | null;
  /** The origin of values the program receives directly (value and call results); none: not an input worth naming. */
  origin?: OriginKind;
  /** The origin of values delivered later to requests of the family; 'socket': payloads in the socket layout below. */
  delivers?: OriginKind | 'socket';
}

/**
 * The families, most specific first (the first match wins). Engine channels (`sequencer.*`) and the
 * bookkeeping channels of a boundary are listed with a null timeline kind.
 */
export const CHANNEL_FAMILIES: readonly ChannelFamily[] = [
  { match: 'sequencer.', module: '(engine)', timeline: null },
  { match: 'time.', module: 'time', timeline: 'time', origin: 'time' },
  { match: 'random.Math.random', exact: true, module: 'random', timeline: 'random', origin: 'random' },
  { match: 'crypto.random', module: 'random', timeline: 'random', origin: 'random', delivers: 'random' },
  { match: 'crypto.getRandomValues', module: 'random', timeline: 'random', origin: 'random' },
  { match: 'crypto.', module: 'threadpool', timeline: 'crypto', origin: 'random', delivers: 'random' },
  { match: 'timers.setImmediate', exact: true, module: 'timers', timeline: null },
  { match: 'timers.', module: 'timers', timeline: 'timer' },
  { match: 'fs.', module: 'fs', timeline: 'fs', origin: 'file', delivers: 'file' },
  { match: 'process.env', exact: true, module: 'process', timeline: 'env', origin: 'env' },
  { match: 'process.ipc', exact: true, module: 'process', timeline: null, origin: 'other' },
  { match: 'process.', module: 'process', timeline: 'process', origin: 'other' },
  { match: 'http.connectionsExpired', exact: true, module: 'http', timeline: null },
  { match: 'child_process.started', exact: true, module: 'child-process', timeline: null, delivers: 'other' },
  { match: 'child_process.stdio', exact: true, module: 'child-process', timeline: null, delivers: 'other' },
  { match: 'child_process.', module: 'child-process', timeline: 'child', origin: 'other', delivers: 'other' },
  { match: 'dns.', module: 'dns', timeline: 'dns', origin: 'other', delivers: 'other' },
  { match: 'dgram.', module: 'dgram', timeline: 'net' },
  { match: 'net.', module: 'net', timeline: 'net', delivers: 'socket' },
  { match: 'tls.', module: 'tls', timeline: 'net', delivers: 'socket' },
  { match: 'stdin.', module: 'stdin', timeline: 'stdin', origin: 'stdin', delivers: 'stdin' },
  { match: 'os.', module: 'os', timeline: 'os', origin: 'other' },
  { match: 'messaging.', module: 'workers', timeline: 'other' },
  { match: 'wasm.', module: 'wasm', timeline: 'other' },
  // Deterministic work sequenced on the thread pool (one-shots and streams): bookkeeping, no input.
  { match: 'zlib.', module: 'threadpool', timeline: null },
];

const cache = new Map<string, ChannelFamily | null>();

/** The family a channel belongs to, or null when no entry names it. */
export function familyOf(channel: string): ChannelFamily | null {
  let family = cache.get(channel);
  if (family !== undefined) return family;
  family = CHANNEL_FAMILIES.find((f) => (f.exact ? channel === f.match : channel.startsWith(f.match))) ?? null;
  cache.set(channel, family);
  return family;
}

/**
 * The layout of a socket delivery's payload (net.ts writes it, the decoders and `why` read it):
 * `[kind, inline, ...]`, where kind is one of these and `inline` says whether the delivery entered
 * JavaScript in the same turn as the previous network event. DATA is `[DATA, inline, bytes]`.
 */
export const SOCKET_DELIVERY = {
  DATA: 0, EOF: 1, RERR: 2, GUARD: 3, CLOSE: 4, TIMEOUT: 5, WDONE: 6, SDONE: 7, CONNECT: 8, EMIT: 9,
  FAIL: 10, THROW: 11, LISTEN: 12, LERR: 13, ACCEPT: 14, AERR: 15, HS: 16, TLSERR: 17, SESSION: 18,
} as const;
