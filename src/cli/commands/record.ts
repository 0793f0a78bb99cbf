// retrace record: runs a command with every Node.js process in its tree recorded.
import type { Command } from '../command.js';

export const command: Command = {
  name: 'record',
  summary: 'Run a command with every Node.js process it starts recorded',
  usage: ['[--out DIR] [--force] -- COMMAND [ARGS...]'],
  runsCommand: true,
  options: [
    { name: '--out', alias: '-o', value: 'DIR', help: 'the folder to write the recording to (default: recording)' },
    { name: '--force', help: 'replace the recording already in that folder' },
  ],
  notes: ['Everything after -- (or from the first word that is not an option) is the command, run as it is.', 'The exit status is the command\'s.'],
  async run(a) {
    const { record } = await import('../record.js');
    return record({ out: a.value('--out') ?? 'recording', force: a.has('--force'), command: [...a.command] });
  },
};
