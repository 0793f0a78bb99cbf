// retrace pack: one file holding a recording and a copy of every file its processes loaded.
import type { Command } from '../command.js';

export const command: Command = {
  name: 'pack',
  summary: 'Write one file holding a recording and the sources it ran, to replay on another machine',
  usage: ['[DIR] [-o FILE.retrace] [--force]'],
  operands: [{ name: 'DIR', help: 'the recording (default: recording)' }],
  options: [
    { name: '--out', alias: '-o', value: 'FILE', help: 'the file to write (default: DIR\'s name with .retrace, here); its folder must exist' },
    { name: '--force', help: 'replace FILE if it exists' },
  ],
  notes: [
    'The file holds the traces and a copy of every file the recorded processes loaded: the program\'s\nmodules, its dependencies\', the package.json files around them and source maps. It is checksummed.\nretrace replay, info, show, print, why and vscode take it in place of a recording folder, from any\nfolder; retrace unpack gives the folder and the sources back. Pack where the recording was made.',
  ],
  async run(a) {
    const { pack } = await import('../pack-command.js');
    return pack({ location: a.operands[0] ?? 'recording', out: a.value('--out'), force: a.has('--force') });
  },
};
