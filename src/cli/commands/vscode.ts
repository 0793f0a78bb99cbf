// retrace vscode: writes a VS Code launch configuration that replays a recording under the debugger.
import type { Command } from '../command.js';
import { IDENTITY_OPTION, TRUST_OPTION } from './shared-options.js';

export const command: Command = {
  name: 'vscode',
  summary: 'Add a VS Code launch configuration that replays the recording under the debugger',
  usage: ['[DIR] [--dap]'],
  operands: [{ name: 'DIR', help: 'the recording (default: recording)' }],
  options: [{ name: '--dap', help: 'a configuration of the "retrace" debug type instead (retrace dap, through the extension in vscode/): step back, reverse continue, timeline, last write' }, IDENTITY_OPTION, TRUST_OPTION],
  notes: ['Run it in the project folder: it adds (or replaces) one configuration in .vscode/launch.json.'],
  async run(a) {
    const { run } = await import('../vscode.js');
    return run({ location: a.operands[0] ?? 'recording', dap: a.has('--dap') });
  },
};
