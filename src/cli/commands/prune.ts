// retrace prune: retention for recordings.
import type { Command } from '../command.js';
import { parseDuration, parseSize } from '../units.js';

export const command: Command = {
  name: 'prune',
  summary: 'Delete old recordings, by age and by the total size they take',
  usage: ['[--older-than AGE] [--max-total SIZE] [--dry-run] DIR...'],
  operands: [{ name: 'DIR', help: 'a recording folder, or a folder whose subfolders are recordings (several may be given)', repeats: true }],
  options: [
    { name: '--older-than', value: 'AGE', help: 'delete recordings last written more than AGE ago (30m, 12h, 7d, 2w)' },
    { name: '--max-total', value: 'SIZE', help: 'then delete the oldest until the rest take at most SIZE (500m, 5g)' },
    { name: '--dry-run', help: 'list what would be deleted, delete nothing' },
  ],
  notes: [
    'A recording written to in the last minute is never deleted (it may still be recording). Only trace files\n(p<N>.rtrc) are removed, and a folder only when nothing else is left in it.',
  ],
  async run(a) {
    const { prune } = await import('../prune.js');
    const older = a.value('--older-than');
    const total = a.value('--max-total');
    return prune({
      dirs: [...a.operands],
      olderThanMs: older === undefined ? undefined : parseDuration(older, '--older-than'),
      maxTotalBytes: total === undefined ? undefined : parseSize(total, '--max-total'),
      dryRun: a.has('--dry-run'),
    });
  },
};
