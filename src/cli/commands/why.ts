// retrace why: replays to a location with provenance instrumentation and prints the lineage of a
// value there, back to the recorded inputs and the literals of the code.
import { wholeNumber } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../recording.js';
import { IDENTITY_OPTION, TRUST_OPTION } from './shared-options.js';

export const DEFAULT_MAX_NODES = 1_000_000;

export const command: Command = {
  name: 'why',
  summary: 'Where a value came from: its lineage back to the recorded inputs and the code\'s literals',
  usage: ['[DIR] --at FILE:LINE[:COL] --expr EXPR [--hit N|last] [--scope auto|narrow|all] [--control] [--json] [--html FILE]'],
  operands: [{ name: 'DIR', help: 'the recording (default: recording)' }],
  options: [
    { name: '--at', value: 'FILE:LINE[:COL]', help: 'where the value is: a line of the program\'s source' },
    { name: '--expr', value: 'EXPR', anyText: true, help: 'the value: a JavaScript expression in the scope of that line' },
    { name: '--hit', value: 'N|last', help: 'which time the line is reached (default: last)' },
    { name: '--scope', value: 'auto|narrow|all', help: 'auto (default): the request (or connection) of the hit, widened to the process\nwhen the lineage leaves it; narrow: never widened; all: the whole process' },
    { name: '--control', help: 'also the conditions (if, ?:, ||, &&, ??, early exits) that decided the value' },
    { name: '--json', help: 'the answer as JSON (its contract: docs/provenance.md)' },
    { name: '--html', value: 'FILE', help: 'also write the answer as an HTML page to FILE' },
    { name: '--max-nodes', value: 'N', help: `at most N lineage nodes are kept (default: ${DEFAULT_MAX_NODES})` },
    { name: '--process', alias: '-p', value: 'N', help: 'the recorded process (default: the first one)' },
    IDENTITY_OPTION,
    TRUST_OPTION,
  ],
  async run(a) {
    const at = a.value('--at');
    const expr = a.value('--expr');
    const hit = a.value('--hit') ?? 'last';
    if (hit !== 'last' && !/^[1-9]\d*$/.test(hit)) throw new UsageError(`--hit takes a positive whole number or "last", not "${hit}"`);
    const scope = a.value('--scope') ?? 'auto';
    if (scope !== 'auto' && scope !== 'narrow' && scope !== 'all') throw new UsageError(`--scope takes auto, narrow or all, not "${scope}"`);
    const maxNodes = a.value('--max-nodes');
    const p = a.value('--process');
    if (!at) throw new UsageError('why needs --at FILE:LINE[:COL]');
    if (expr === undefined || expr.trim() === '') throw new UsageError('why needs --expr EXPR');
    const { run } = await import('../why.js');
    return run({
      location: a.operands[0] ?? 'recording',
      at,
      expr,
      hit: hit === 'last' ? 'last' : Number(hit),
      json: a.has('--json'),
      html: a.value('--html') ?? null,
      maxNodes: maxNodes === undefined ? DEFAULT_MAX_NODES : wholeNumber(maxNodes, '--max-nodes', 1),
      process: p === undefined ? undefined : wholeNumber(p, '--process'),
      scope,
      control: a.has('--control'),
    });
  },
};
