// Buffer conversions that keep byte ranges: text to bytes and back in utf8 (ASCII), latin1, hex and
// base64, so that a part of decoded text has the lineage of the characters it was encoded from.
import type { Call, ModelHost } from './host.js';
import { register } from './registry.js';

type RangeMap = (start: number, end: number) => [number, number];

const identity = (offset = 0): RangeMap => (a, b) => [a + offset, b + offset];
/** Bytes [a, b) of decoded base64 text come from its characters of whole 4-character groups. */
const base64Chars: RangeMap = (a, b) => [Math.floor(a / 3) * 4, Math.ceil(b / 3) * 4];
const base64Bytes = (offset: number, size: number): RangeMap => (a, b) => [offset + Math.floor(a / 4) * 3, Math.min(offset + size, offset + Math.ceil(b / 4) * 3)];

function normal(enc: unknown): string {
  return typeof enc === 'string' ? enc.toLowerCase().replace('-', '') : 'utf8';
}

function isAscii(b: Uint8Array): boolean {
  for (const x of b) if (x > 0x7f) return false;
  return true;
}

function mapped(host: ModelHost, call: Call, result: unknown, src: number, map: RangeMap): number {
  if (!src) return 0;
  const out = host.arena.node1(call.site, 0, result, src);
  host.setRangeMap(out, src, map);
  return out;
}

register([Buffer.from], (host, call, result) => {
  const [text, encoding] = call.args;
  if (typeof text !== 'string' || !Buffer.isBuffer(result)) return null;
  const enc = normal(encoding);
  const size = result.length;
  let map: RangeMap | null = null;
  if (enc === 'utf8' || enc === 'ascii' || enc === 'latin1' || enc === 'binary') map = size === text.length ? identity() : null;
  else if (enc === 'hex') map = (a, b) => [a * 2, b * 2];
  else if (enc === 'base64' || enc === 'base64url') map = (a, b) => { const [x, y] = base64Chars(a, b); return [x, Math.min(y, text.length)]; };
  return map ? mapped(host, call, result, call.labels[0] ?? 0, map) : null;
});

register([Buffer.prototype.toString], (host, call, result) => {
  const buf = call.recv;
  if (!Buffer.isBuffer(buf) || typeof result !== 'string') return null;
  const enc = normal(call.args[0]);
  const start = Math.max(0, Math.min(buf.length, Number(call.args[1] ?? 0) || 0));
  const end = Math.max(start, Math.min(buf.length, call.args[2] === undefined ? buf.length : Number(call.args[2]) || 0));
  let map: RangeMap | null = null;
  if (enc === 'utf8' || enc === 'ascii' || enc === 'latin1' || enc === 'binary') map = result.length === end - start && (enc !== 'utf8' || isAscii(buf.subarray(start, end))) ? identity(start) : null;
  else if (enc === 'hex') map = (a, b) => [start + Math.floor(a / 2), start + Math.ceil(b / 2)];
  else if (enc === 'base64' || enc === 'base64url') map = base64Bytes(start, end - start);
  return map ? mapped(host, call, result, call.recvLabel, map) : null;
});
