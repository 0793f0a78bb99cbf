// retrace info: what a recording holds.
import type { Command } from '../command.js';
import { IDENTITY_OPTION } from './shared-options.js';

export const command: Command = {
  name: 'info',
  summary: 'Describe a recording: its processes, their commands, how they ended, events by kind',
  usage: ['[DIR] [--json]'],
  operands: [{ name: 'DIR', help: 'the recording (default: recording)' }],
  options: [{ name: '--json', help: 'one JSON array, an object per process' }, IDENTITY_OPTION],
  async run(a) {
    const { formatInfo, info } = await import('../info.js');
    const processes = info(a.operands[0] ?? 'recording');
    process.stdout.write(a.has('--json') ? `${JSON.stringify(processes, null, 2)}\n` : `${formatInfo(processes)}\n`);
    return 0;
  },
};
