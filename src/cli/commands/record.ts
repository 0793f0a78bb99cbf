// retrace record: runs a command with every Node.js process in its tree recorded.
import type { Command } from '../command.js';
import { UsageError } from '../recording.js';
import { parseDuration, parseSize } from '../units.js';

export const command: Command = {
  name: 'record',
  summary: 'Run a command with every Node.js process it starts recorded',
  usage: ['[--out DIR] [--force] [--keep always|failure] [--no-redact] [--max-size SIZE] [--max-duration TIME] [--encrypt-to RECIPIENT] -- COMMAND [ARGS...]'],
  runsCommand: true,
  options: [
    { name: '--out', alias: '-o', value: 'DIR', help: 'the folder to write the recording to (default: recording)' },
    { name: '--force', help: 'replace the recording already in that folder' },
    { name: '--keep', value: 'always|failure', help: 'always (default): keep the recording; failure: keep it only when the command\nexits non-zero or a recorded process crashed, else delete it (a CI job\'s tests)' },
    { name: '--max-size', value: 'SIZE', help: 'stop recording a process before its trace passes SIZE (500k, 100m, 5g); the program runs on' },
    { name: '--max-duration', value: 'TIME', help: 'stop recording a process TIME after it started (30s, 10m, 2h); the program runs on' },
    { name: '--encrypt-to', value: 'RECIPIENT', help: 'encrypt the recording to an age public key (age1...) or a file of them; repeatable\n(default: RETRACE_ENCRYPT_TO); reading it then needs --identity' },
    { name: '--no-redact', help: 'store secrets as they were: no redaction of environment, headers, bodies, database logins and key files (docs/security.md)' },
  ],
  notes: ['Everything after -- (or from the first word that is not an option) is the command, run as it is.', 'The exit status is the command\'s.'],
  async run(a) {
    const keep = a.value('--keep') ?? 'always';
    if (keep !== 'always' && keep !== 'failure') throw new UsageError(`--keep takes always or failure, not "${keep}"`);
    const { record } = await import('../record.js');
    const maxSize = a.value('--max-size');
    const maxDuration = a.value('--max-duration');
    return record({
      out: a.value('--out') ?? 'recording',
      force: a.has('--force'),
      redact: !a.has('--no-redact'),
      command: [...a.command],
      keep,
      maxBytes: maxSize === undefined ? undefined : parseSize(maxSize, '--max-size'),
      maxDurationMs: maxDuration === undefined ? undefined : parseDuration(maxDuration, '--max-duration'),
      encryptTo: a.values('--encrypt-to'),
    });
  },
};
