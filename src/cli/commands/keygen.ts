// retrace keygen: an age identity for encrypted recordings.
import * as fs from 'node:fs';
import type { Command } from '../command.js';
import { UsageError } from '../recording.js';
import { RECORDING_FILE_MODE } from '../../runtime/paths.js';

export const command: Command = {
  name: 'keygen',
  summary: 'Make an age identity (private key) for encrypted recordings, and print its public key',
  usage: ['[--out FILE]'],
  options: [{ name: '--out', alias: '-o', value: 'FILE', help: 'write the identity to FILE (mode 0600, never overwriting); the public key goes to stderr\n(default: the identity and its public key on stdout)' }],
  notes: [
    'The file is in the format of age-keygen: identities made by either work with the other. Record with\nretrace record --encrypt-to PUBLIC_KEY (or RETRACE_ENCRYPT_TO); read with --identity FILE (or\nRETRACE_IDENTITY). Keep the identity off the hosts that record: they need only the public key.',
  ],
  async run(a) {
    const { newIdentity } = await import('../encryption.js');
    const { text, recipient } = await newIdentity();
    const out = a.value('--out');
    if (out === undefined) {
      process.stdout.write(text);
      return 0;
    }
    try {
      fs.writeFileSync(out, text, { flag: 'wx', mode: RECORDING_FILE_MODE });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(code === 'EEXIST' ? `${out} already exists: keygen never overwrites a key` : `cannot write ${out}: ${code ?? (err as Error).message}`);
    }
    process.stderr.write(`Public key: ${recipient}\n`);
    return 0;
  },
};
