// The option reader every command shares: `--flag VALUE` and `--flag=VALUE`, one-line errors for
// a missing value, an unknown option or a second recording folder, and the number checks their
// messages depend on. Each command keeps only its own table of options.
import { UsageError } from './recording.js';

export interface Flag {
  /** The option without its `=VALUE` part. */
  readonly name: string;
  /** The argument as typed (`--inspect=9229`), for options passed on as they are. */
  readonly raw: string;
  /**
   * The option's value: the text after `=`, else the next argument. A next argument that looks
   * like an option is refused ("needs a value") unless `anyText` (an expression may start with `-`).
   */
  value(anyText?: boolean): string;
}

/**
 * Reads `args` for `command`. `onFlag` handles one option and returns false for an option it does
 * not know; any other word is the recording folder, of which there is at most one. Returns it, or
 * `fallback` when none was given.
 */
export function readArgs(command: string, args: readonly string[], onFlag: (flag: Flag) => boolean, fallback = 'recording'): string {
  let folder: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    if (!raw.startsWith('-') || raw === '-') {
      if (folder !== null) throw new UsageError(`${command} takes one recording folder, not "${folder}" and "${raw}"`);
      folder = raw;
      continue;
    }
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const name = eq > 0 ? raw.slice(0, eq) : raw;
    let used = false;
    const flag: Flag = {
      name,
      raw,
      value: (anyText = false) => {
        if (used) throw new Error(`${name}: value read twice`);
        used = true;
        if (eq > 0) return raw.slice(eq + 1);
        const next = args[i + 1];
        if (next === undefined || (!anyText && next.startsWith('--') && next.length > 2)) throw new UsageError(`${name} needs a value`);
        i++;
        return next;
      },
    };
    if (!onFlag(flag)) throw new UsageError(`unknown option for ${command}: ${raw}`);
  }
  return folder ?? fallback;
}

/** A whole number (from `min`), or a one-line error naming the option. */
export function wholeNumber(v: string, flag: string, min = 0): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${flag} takes a whole number${min > 0 ? ` from ${min}` : ''}, not "${v}"`);
  return Number(v);
}
