// Rendering recorded values for people: short one-line forms for the timeline, and full forms
// (pretty JSON, tables, hexdumps) for one event in detail. Everything here is display-only.
import * as util from 'node:util';

/** A one-line, bounded rendering of any recorded value. Cheap: it never walks more than it shows. */
export function brief(value: unknown, max = 60): string {
  const out = briefInner(value, max, 0);
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

function briefInner(value: unknown, max: number, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > max ? value.slice(0, max) : value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
    case 'function':
      return String(value);
  }
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return bytesBrief(value, max);
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (depth >= 2) return Array.isArray(value) ? `[…${value.length}]` : '{…}';
  const parts: string[] = [];
  let length = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (length > max) {
        parts.push('…');
        break;
      }
      const s = briefInner(item, max, depth + 1);
      parts.push(s);
      length += s.length + 2;
    }
    return `[${parts.join(', ')}]`;
  }
  if (value instanceof Map) return `Map(${value.size})`;
  if (value instanceof Set) return `Set(${value.size})`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.byteLength} bytes)`;
  for (const key of Object.keys(value as object)) {
    if (length > max) {
      parts.push('…');
      break;
    }
    const s = `${key}: ${briefInner((value as Record<string, unknown>)[key], max, depth + 1)}`;
    parts.push(s);
    length += s.length + 2;
  }
  return `{${parts.join(', ')}}`;
}

/** Bytes as text when they read as text, otherwise as a size with the first bytes in hex. */
export function bytesBrief(bytes: Buffer, max = 40): string {
  if (looksLikeText(bytes)) {
    const text = bytes.subarray(0, max * 4).toString('utf8');
    return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  }
  const head = bytes.subarray(0, Math.min(bytes.length, Math.floor(max / 3))).toString('hex').replace(/(..)/g, '$1 ').trim();
  return `<${bytes.length} bytes ${head}${bytes.length * 3 > max ? ' …' : ''}>`;
}

/** Printable UTF-8 (tabs and newlines allowed), judged on the first KiB. */
export function looksLikeText(bytes: Buffer): boolean {
  const sample = bytes.subarray(0, 1024);
  for (const b of sample) {
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  }
  const text = sample.toString('utf8');
  // A cut multi-byte sequence at the end of the sample is fine; replacement characters elsewhere are not.
  return !text.slice(0, -3).includes('\ufffd');
}

/** `xxd`-style hexdump, at most `limit` bytes. */
export function hexdump(bytes: Buffer, limit = 4096, indent = ''): string {
  const lines: string[] = [];
  const shown = bytes.subarray(0, limit);
  for (let off = 0; off < shown.length; off += 16) {
    const row = shown.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${indent}${off.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  if (bytes.length > limit) lines.push(`${indent}… ${bytes.length - limit} more bytes`);
  return lines.join('\n');
}

/** A body for reading: pretty JSON when it parses, text when it is text, else a hexdump. */
export function prettyBody(body: Buffer, contentType = '', indent = '  ', truncatedAt?: number): string {
  if (body.length === 0) return `${indent}(empty)`;
  const more = truncatedAt !== undefined ? `\n${indent}… the body went on to ${truncatedAt} bytes (only the first ${body.length} are shown)` : '';
  if (looksLikeText(body)) {
    const text = body.toString('utf8');
    if (/json/i.test(contentType) || /^\s*[[{]/.test(text)) {
      try {
        return indentLines(JSON.stringify(JSON.parse(text), null, 2), indent) + more;
      } catch {
        // not JSON after all: shown as text
      }
    }
    return indentLines(text.length > 64 * 1024 ? `${text.slice(0, 64 * 1024)}\n… (${text.length - 64 * 1024} more characters)` : text, indent) + more;
  }
  return hexdump(body, 4096, indent) + more;
}

export function indentLines(text: string, indent: string): string {
  return text
    .split('\n')
    .map((l) => indent + l)
    .join('\n');
}

/** A value in full, for one event's detail: util.inspect with Buffers as hexdumps. */
export function fullValue(value: unknown, indent = '  '): string {
  if (Buffer.isBuffer(value)) return `${indent}<Buffer, ${value.length} bytes>\n${hexdump(value, 4096, indent)}`;
  if (typeof value === 'string' && value.includes('\n')) return indentLines(value, indent);
  return indentLines(util.inspect(value, { depth: 6, maxArrayLength: 200, maxStringLength: 20_000, breakLength: 100 }), indent);
}

/** Rows as an aligned text table; cells are cut at `cellMax` characters, rows at `rowMax`. */
export function table(columns: string[], rows: unknown[][], indent = '  ', rowMax = 200, cellMax = 60): string {
  const cell = (v: unknown): string => {
    let s = v === null ? 'NULL' : v === undefined ? '' : typeof v === 'string' ? v : Buffer.isBuffer(v) ? bytesBrief(v, cellMax) : brief(v, cellMax);
    s = s.replace(/\s+/g, ' ');
    return s.length > cellMax ? `${s.slice(0, cellMax - 1)}…` : s;
  };
  const shown = rows.slice(0, rowMax).map((r) => columns.map((_, i) => cell(r[i])));
  const widths = columns.map((c, i) => Math.max(c.length, ...shown.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `${indent}${cells.map((c, i) => c.padEnd(widths[i]!)).join(' │ ')}`.trimEnd();
  const out = [line(columns), `${indent}${widths.map((w) => '─'.repeat(w)).join('─┼─')}`, ...shown.map(line)];
  if (rows.length > rowMax) out.push(`${indent}… ${rows.length - rowMax} more rows`);
  return out.join('\n');
}

/** Milliseconds for a duration: "12 ms", "0.4 ms", "2.31 s". */
export function duration(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function bytesCount(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** "1 row", "3 rows". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
