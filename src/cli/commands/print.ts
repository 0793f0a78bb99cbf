// retrace print: replays a recording with a debugger attached in-process and prints the value of an
// expression each time execution reaches a source location, without changing the program.
import * as vm from 'node:vm';
import { wholeNumber } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../recording.js';
import { IDENTITY_OPTION, TRUST_OPTION } from './shared-options.js';

export const command: Command = {
  name: 'print',
  summary: 'Replay and print an expression each time the program reaches a source line',
  usage: ['[DIR] --at FILE:LINE[:COL] --expr EXPR [--hit N] [--process N] [--json]'],
  operands: [{ name: 'DIR', help: 'the recording (default: recording)' }],
  options: [
    { name: '--at', value: 'FILE:LINE[:COL]', help: 'where to stop: a line of the program\'s source (TypeScript through source maps)' },
    { name: '--expr', alias: '-e', value: 'EXPR', anyText: true, help: 'the JavaScript expression to print there, in the scope of that line' },
    { name: '--hit', value: 'N', help: 'only the Nth time the line is reached (default: every time)' },
    { name: '--process', alias: '-p', value: 'N', help: 'the recorded process (default: the first one)' },
    { name: '--stall-ms', value: 'MS', help: 'as for replay: how long to wait for the next recorded event' },
    { name: '--json', help: 'one JSON object per hit' },
    IDENTITY_OPTION,
    TRUST_OPTION,
  ],
  async run(a) {
    const at = a.value('--at');
    const expr = a.value('--expr');
    if (!at) throw new UsageError('print needs --at FILE:LINE (where to stop), e.g. retrace print --at src/app.ts:12 --expr total');
    if (expr === undefined || expr.trim() === '') throw new UsageError('print needs --expr EXPR (what to print), e.g. --expr total');
    try {
      // Compiled, never run: a statement or a typo is reported before replaying anything.
      new vm.Script(`(${expr}\n)`, { filename: 'expression' });
    } catch (err) {
      throw new UsageError(`--expr ${JSON.stringify(expr)} is not a JavaScript expression: ${(err as Error).message}`);
    }
    const hit = a.value('--hit');
    const p = a.value('--process');
    const stall = a.value('--stall-ms');
    const { run } = await import('../print.js');
    return run({
      location: a.operands[0] ?? 'recording',
      at,
      expr,
      hit: hit === undefined ? null : wholeNumber(hit, '--hit', 1),
      process: p === undefined ? undefined : wholeNumber(p, '--process'),
      json: a.has('--json'),
      stallMs: stall === undefined ? undefined : wholeNumber(stall, '--stall-ms', 1),
    });
  },
};
