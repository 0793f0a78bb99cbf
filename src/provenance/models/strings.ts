// String methods that keep character ranges: case conversion (when it keeps the length), trimming,
// padding, and replace/replaceAll with a replacement string or a callback, so that a later slice,
// split or regex group of the result has the lineage of its own characters only.
import type { Call, ModelHost } from './host.js';
import { register } from './registry.js';

/** `out` is the text `parts` laid end to end: a node over their labels that remembers the layout. */
function laidOut(host: ModelHost, call: Call, result: string, parts: { len: number; label: number }[]): number {
  const kept = parts.filter((p) => p.len > 0);
  const labels = kept.map((p) => p.label);
  if (!labels.some((l) => l)) return 0;
  const out = host.arena.node(call.site, 0, result, labels);
  host.setParts(out, kept.map((p) => p.len), labels);
  return out;
}

const sameLength = (host: ModelHost, call: Call, result: unknown): number | null => {
  const s = call.recv;
  if (typeof s !== 'string' || typeof result !== 'string') return null;
  if (result.length !== s.length) return null; // ß → SS: the characters no longer line up
  return laidOut(host, call, result, [{ len: s.length, label: call.recvLabel }]);
};
register(
  [String.prototype.toUpperCase, String.prototype.toLowerCase, String.prototype.toLocaleUpperCase, String.prototype.toLocaleLowerCase, String.prototype.normalize],
  sameLength,
);

const trimmed = (from: 'start' | 'end' | 'both') => (host: ModelHost, call: Call, result: unknown): number | null => {
  const s = call.recv;
  if (typeof s !== 'string' || typeof result !== 'string') return null;
  const start = from === 'end' ? 0 : s.length - s.trimStart().length;
  return host.rangeLabel(call.site, call.recvLabel, start, start + result.length, result);
};
register([String.prototype.trim], trimmed('both'));
register([String.prototype.trimStart], trimmed('start'));
register([String.prototype.trimEnd], trimmed('end'));

const padded = (atStart: boolean) => (host: ModelHost, call: Call, result: unknown): number | null => {
  const s = call.recv;
  if (typeof s !== 'string' || typeof result !== 'string') return null;
  const pad = { len: result.length - s.length, label: call.labels[1] ?? 0 };
  const own = { len: s.length, label: call.recvLabel };
  return laidOut(host, call, result, atStart ? [pad, own] : [own, pad]);
};
register([String.prototype.padStart], padded(true));
register([String.prototype.padEnd], padded(false));

/** Where the pattern matched, in order (null when this model cannot tell exactly). */
function matchesOf(s: string, pattern: unknown, all: boolean): { index: number; length: number }[] | null {
  const found: { index: number; length: number }[] = [];
  if (typeof pattern === 'string') {
    if (pattern === '') return null;
    let at = s.indexOf(pattern);
    while (at >= 0) {
      found.push({ index: at, length: pattern.length });
      if (!all) break;
      at = s.indexOf(pattern, at + pattern.length);
    }
    return found;
  }
  if (!(pattern instanceof RegExp) || pattern.sticky) return null;
  const re = new RegExp(pattern.source, pattern.flags);
  if (!re.global) {
    const m = re.exec(s);
    if (m) found.push({ index: m.index, length: m[0].length });
    return found;
  }
  re.lastIndex = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    found.push({ index: m.index, length: m[0].length });
    if (m[0].length === 0) re.lastIndex++;
  }
  return found;
}

const replaced = (all: boolean) => (host: ModelHost, call: Call, result: unknown): number | null => {
  const s = call.recv;
  if (typeof s !== 'string' || typeof result !== 'string') return null;
  const [pattern, replacement] = call.args;
  const byCallback = typeof replacement === 'function';
  // a replacement string with $-patterns inserts parts of the match: the runtime's general rule
  if (!byCallback && (typeof replacement !== 'string' || replacement.includes('$'))) return null;
  const global = all || (pattern instanceof RegExp && pattern.global);
  const found = matchesOf(s, pattern, global);
  if (!found) return null;
  if (byCallback && (!call.returns || !call.returnValues || call.returnValues.length !== found.length)) return null;
  const parts: { len: number; label: number }[] = [];
  let cursor = 0;
  found.forEach((m, i) => {
    if (m.index > cursor) parts.push({ len: m.index - cursor, label: host.rangeLabel(call.site, call.recvLabel, cursor, m.index, s.slice(cursor, m.index)) });
    const text = byCallback ? String(call.returnValues![i]) : (replacement as string);
    parts.push({ len: text.length, label: byCallback ? call.returns![i]! : (call.labels[1] ?? 0) });
    cursor = m.index + m.length;
  });
  if (cursor < s.length) parts.push({ len: s.length - cursor, label: host.rangeLabel(call.site, call.recvLabel, cursor, s.length, s.slice(cursor)) });
  if (parts.reduce((n, p) => n + p.len, 0) !== result.length) return null;
  return laidOut(host, call, result, parts);
};
register([String.prototype.replace], replaced(false), { collectReturns: true });
register([String.prototype.replaceAll], replaced(true), { collectReturns: true });
