// The option reader every command shares. A command declares its options once (src/cli/command.ts);
// this reads the arguments against that declaration, and the help text is written from the same
// declaration, so what `--help` says and what the parser accepts cannot drift apart.
//
// `--flag VALUE`, `--flag=VALUE` and `-f VALUE`; one-line errors for a missing value, an unknown
// option (with the nearest known one) and too many operands.
import type { CommandSpec, OptionSpec } from './command.js';
import { UsageError } from './recording.js';

export interface ParsedArgs {
  /** The operands (words that are not options), in order: the recording folder, a file. */
  readonly operands: readonly string[];
  /** For a command that runs a command (`record`): what follows `--` or the first operand. */
  readonly command: readonly string[];
  /** Whether `--help` / `-h` was given (before any `--`). */
  readonly help: boolean;
  /** Every option given, in order, with the name it was declared under. */
  readonly given: readonly GivenOption[];
  /** The option was given (a flag, or an option with or without a value). */
  has(name: string): boolean;
  /** The last value given for an option that takes one, else undefined. */
  value(name: string): string | undefined;
  /** Every value given for the option, in order. */
  values(name: string): string[];
}

export interface GivenOption {
  /** The declared long name (`--process`), whatever spelling was typed. */
  readonly name: string;
  /** The argument as typed (`--inspect=9229`, `-p`), for options passed on as they are. */
  readonly raw: string;
  /** Its value; undefined for a flag or an optional value not given. */
  readonly value: string | undefined;
}

/** Reads `args` for the declared command; throws UsageError with one line for anything it does not accept. */
export function parseArgs(spec: CommandSpec, args: readonly string[]): ParsedArgs {
  const byName = new Map<string, OptionSpec>();
  for (const o of spec.options) {
    byName.set(o.name, o);
    if (o.alias) byName.set(o.alias, o);
  }
  const operands: string[] = [];
  const given: GivenOption[] = [];
  let command: string[] = [];
  let help = false;
  const maxOperands = spec.operands?.at(-1)?.repeats ? Infinity : (spec.operands?.length ?? 0);
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    if (raw === '--' && spec.runsCommand) {
      command = args.slice(i + 1);
      break;
    }
    if (!raw.startsWith('-') || raw === '-') {
      if (spec.runsCommand) {
        command = args.slice(i);
        break;
      }
      if (operands.length >= maxOperands) {
        if (maxOperands === 0) throw new UsageError(`${spec.name} takes no ${spec.operands ? 'operand' : 'argument'} "${raw}"; see retrace help ${spec.name}`);
        if (maxOperands === 1) throw new UsageError(`${spec.name} takes one ${spec.operands![0]!.name === 'DIR' ? 'recording folder' : spec.operands![0]!.name}, not "${operands[0]}" and "${raw}"`);
        throw new UsageError(`${spec.name} takes at most ${maxOperands} operands; "${raw}" is one too many`);
      }
      operands.push(raw);
      continue;
    }
    if (raw === '--help' || raw === '-h') {
      help = true;
      continue;
    }
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const typed = eq > 0 ? raw.slice(0, eq) : raw;
    const option = byName.get(typed);
    if (!option) {
      const near = nearest(typed, [...byName.keys(), '--help']);
      throw new UsageError(`unknown option for ${spec.name}: ${raw}${near ? ` (did you mean ${near}?)` : ''}`);
    }
    let value: string | undefined;
    if (option.value === undefined) {
      if (eq > 0) throw new UsageError(`${option.name} takes no value, not "${raw.slice(eq + 1)}"`);
    } else if (eq > 0) {
      value = raw.slice(eq + 1);
    } else if (!option.optionalValue) {
      const next = args[i + 1];
      // A next argument that looks like an option is refused, unless the value may be any text
      // (an expression may start with `-`).
      if (next === undefined || (!option.anyText && next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`${option.name} needs a value (${option.name} ${option.value})`);
      }
      value = next;
      i++;
    }
    given.push({ name: option.name, raw, value });
  }
  const check = (name: string) => {
    if (!spec.options.some((o) => o.name === name)) throw new Error(`${spec.name} declares no option ${name}`);
  };
  return {
    operands,
    command,
    help,
    given,
    has: (name) => (check(name), given.some((g) => g.name === name)),
    value: (name) => (check(name), given.filter((g) => g.name === name).at(-1)?.value),
    values: (name) => (check(name), given.filter((g) => g.name === name && g.value !== undefined).map((g) => g.value!)),
  };
}

/** A whole number (from `min`), or a one-line error naming the option. */
export function wholeNumber(v: string, flag: string, min = 0): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${flag} takes a whole number${min > 0 ? ` from ${min}` : ''}, not "${v}"`);
  return Number(v);
}

/** The candidate closest to `word` when it is close enough to be a typo of it (or it starts the same way), else null. */
export function nearest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const bare = (s: string) => s.replace(/^-+/, '');
  for (const c of candidates) {
    const d = editDistance(bare(word), bare(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === null) return null;
  const w = bare(word);
  const allowed = Math.max(1, Math.min(3, Math.floor(bare(best).length / 3)));
  if (bestDistance <= allowed) return best;
  // `--pro` for `--process`: a prefix long enough to mean one option.
  const prefixed = [...candidates].filter((c) => w.length >= 3 && bare(c).startsWith(w));
  return prefixed.length === 1 ? prefixed[0]! : null;
}

/** Edits (insert, delete, replace, swap two neighbours: `--froce`) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
