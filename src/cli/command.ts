// What a `retrace` command is: one file in src/cli/commands/ declares its name, summary, usage,
// operands and options, and its `run`. The parser (args.ts) and the help text (here) both read the
// declaration. A command file imports only what it needs to read its arguments; the code that does
// the work is imported inside `run`, so that `retrace record` does not load `why`'s instrumenter.
import type { ParsedArgs } from './args.js';

export interface OptionSpec {
  /** The long name, with its dashes: `--process`. */
  readonly name: string;
  /** A short spelling: `-p`. */
  readonly alias?: string;
  /** The value's placeholder (`N`, `DIR`) for an option that takes one; absent for a flag. */
  readonly value?: string;
  /** The value is given only as `--name=VALUE`; `--name` alone is allowed (`--inspect[=PORT]`). */
  readonly optionalValue?: boolean;
  /** The value may start with `-` (an expression): the next argument is taken whatever it is. */
  readonly anyText?: boolean;
  /** One line (or a few) for the help: what it does and its default. */
  readonly help: string;
}

export interface OperandSpec {
  /** As shown in the usage: `DIR`, `FILE`. */
  readonly name: string;
  readonly help: string;
  /** The last operand may be given any number of times (`prune DIR...`). */
  readonly repeats?: boolean;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for `retrace --help`. */
  readonly summary: string;
  /** The usage lines, each after `retrace NAME ` (options in brackets as the user types them). */
  readonly usage: readonly string[];
  /** Words that are not options, in order; at most this many are accepted. */
  readonly operands?: readonly OperandSpec[];
  /** The command runs another command: the first operand, or what follows `--`, and everything after it. */
  readonly runsCommand?: boolean;
  readonly options: readonly OptionSpec[];
  /** Paragraphs after the options: defaults, examples. */
  readonly notes?: readonly string[];
}

export interface Command extends CommandSpec {
  /** Runs the command; returns its exit status. Throws UsageError for bad arguments. */
  run(args: ParsedArgs): Promise<number>;
}

/** `retrace help NAME` / `retrace NAME --help`: the usage, every operand and every option. */
export function commandHelp(c: CommandSpec): string {
  const lines = c.usage.map((u, i) => `${i === 0 ? 'usage:' : '      '} retrace ${c.name}${u ? ` ${u}` : ''}`);
  lines.push('', `${c.summary}.`);
  const rows: [string, string][] = [];
  for (const o of c.operands ?? []) rows.push([o.name, o.help]);
  if (rows.length > 0) lines.push('', 'arguments:', ...table(rows));
  const options: [string, string][] = c.options.map((o) => [optionLabel(o), o.help]);
  options.push(['-h, --help', 'this help']);
  lines.push('', 'options:', ...table(options));
  for (const note of c.notes ?? []) lines.push('', note);
  return lines.join('\n');
}

function optionLabel(o: OptionSpec): string {
  const value = o.value === undefined ? '' : o.optionalValue ? `[=${o.value}]` : ` ${o.value}`;
  return `${o.alias ? `${o.alias}, ` : '    '}${o.name}${value}`;
}

function table(rows: [string, string][]): string[] {
  const width = Math.min(28, Math.max(...rows.map(([l]) => l.length)));
  const out: string[] = [];
  for (const [label, help] of rows) {
    const [first, ...rest] = help.split('\n');
    if (label.length > width) out.push(`  ${label}`, `  ${''.padEnd(width)}  ${first}`);
    else out.push(`  ${label.padEnd(width)}  ${first}`);
    for (const more of rest) out.push(`  ${''.padEnd(width)}  ${more}`);
  }
  return out;
}

/** `retrace --help`: every command with its summary. */
export function overviewHelp(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: retrace COMMAND [OPTIONS] [ARGS]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  Describe a command and every option it takes: retrace help COMMAND`,
    '',
    'retrace --version prints the version. A recording is a folder, ./recording unless told otherwise.',
  ].join('\n');
}
