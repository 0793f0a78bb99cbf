// retrace unpack: a packed recording back as a folder, with the sources it ran.
import type { Command } from '../command.js';

export const command: Command = {
  name: 'unpack',
  summary: 'Give back the recording folder and the sources held in a .retrace file',
  usage: ['FILE.retrace [-o DIR]'],
  operands: [{ name: 'FILE', help: 'a file written by retrace pack' }],
  options: [{ name: '--out', alias: '-o', value: 'DIR', help: 'the folder to create (default: FILE\'s name without .retrace, here)' }],
  notes: ['DIR gets recording/ (the traces) and files/ (the sources, under the absolute paths they were\nrecorded at). Every file is checked against its checksum.'],
  async run(a) {
    const { unpack } = await import('../pack-command.js');
    return unpack({ file: a.operands[0], out: a.value('--out') });
  },
};
