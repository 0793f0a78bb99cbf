// Sizes and durations as users type them: `--max-size 500m`, `--older-than 7d`.
import { UsageError } from './recording.js';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Bytes from `123`, `64k`, `500m`, `5g` (powers of 1024). */
export function parseSize(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) throw new UsageError(`${flag} takes a size such as 500k, 100m or 5g, not "${v}"`);
  return Math.floor(Number(m[1]) * unit);
}

/** Milliseconds from `500ms`, `30s`, `10m`, `2h`, `7d`, `1w`. */
export function parseDuration(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(v.trim());
  const unit = m ? DURATION_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) throw new UsageError(`${flag} takes a duration such as 30s, 10m, 2h or 7d, not "${v}"`);
  return Math.round(Number(m[1]) * unit);
}
