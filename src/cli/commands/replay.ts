// retrace replay: re-executes one recorded process with its recording as the outside world.
import { wholeNumber } from '../args.js';
import type { Command } from '../command.js';
import { IDENTITY_OPTION, TRUST_OPTION } from './shared-options.js';

export const command: Command = {
  name: 'replay',
  summary: 'Re-run a recorded process offline, with its recording as the outside world',
  usage: ['[DIR] [--process N] [--inspect[=PORT]] [--inspect-brk[=PORT]] [--stall-ms MS] [--identity FILE] [--trust]'],
  operands: [{ name: 'DIR', help: 'the recording (default: recording), or one of its p<N>.rtrc files' }],
  options: [
    { name: '--process', alias: '-p', value: 'N', help: 'the recorded process to replay (default: the first one; see retrace info)' },
    { name: '--inspect', value: 'PORT', optionalValue: true, help: 'passed to node: listen for a debugger (Chrome DevTools, VS Code)' },
    { name: '--inspect-brk', value: 'PORT', optionalValue: true, help: 'passed to node: listen for a debugger and wait for it before the first line' },
    { name: '--inspect-wait', value: 'PORT', optionalValue: true, help: 'passed to node: listen for a debugger and wait for it to attach' },
    { name: '--enable-source-maps', help: 'passed to node: stack traces point into TypeScript sources' },
    { name: '--stall-ms', value: 'MS', help: 'how long the program may run without reaching its next recorded event\nbefore replay reports a stall (default: 10000)' },
    IDENTITY_OPTION,
    TRUST_OPTION,
  ],
  notes: ['Run it from the project folder the recording was made in (or a copy of it). The exit status is the\nrecorded one; 86 means the program did something other than what was recorded (a divergence).'],
  async run(a) {
    const { replay } = await import('../replay.js');
    const p = a.value('--process');
    const stall = a.value('--stall-ms');
    const passed = new Set(['--inspect', '--inspect-brk', '--inspect-wait', '--enable-source-maps']);
    return replay({
      location: a.operands[0] ?? 'recording',
      process: p === undefined ? undefined : wholeNumber(p, '--process'),
      nodeFlags: a.given.filter((g) => passed.has(g.name)).map((g) => g.raw),
      stallMs: stall === undefined ? undefined : wholeNumber(stall, '--stall-ms'),
    });
  },
};
