// retrace record: runs a command with every Node.js process in its tree recorded.
import type { Command } from '../command.js';
import { UsageError } from '../recording.js';

export const command: Command = {
  name: 'record',
  summary: 'Run a command with every Node.js process it starts recorded',
  usage: ['[--out DIR] [--force] [--keep always|failure] [--no-redact] -- COMMAND [ARGS...]'],
  runsCommand: true,
  options: [
    { name: '--out', alias: '-o', value: 'DIR', help: 'the folder to write the recording to (default: recording)' },
    { name: '--force', help: 'replace the recording already in that folder' },
    { name: '--keep', value: 'always|failure', help: 'always (default): keep the recording; failure: keep it only when the command\nexits non-zero or a recorded process crashed, else delete it (a CI job\'s tests)' },
    { name: '--no-redact', help: 'store secrets as they were: no redaction of environment, headers, bodies, database logins and key files (docs/security.md)' },
  ],
  notes: ['Everything after -- (or from the first word that is not an option) is the command, run as it is.', 'The exit status is the command\'s.'],
  async run(a) {
    const keep = a.value('--keep') ?? 'always';
    if (keep !== 'always' && keep !== 'failure') throw new UsageError(`--keep takes always or failure, not "${keep}"`);
    const { record } = await import('../record.js');
    return record({ out: a.value('--out') ?? 'recording', force: a.has('--force'), redact: !a.has('--no-redact'), command: [...a.command], keep });
  },
};
