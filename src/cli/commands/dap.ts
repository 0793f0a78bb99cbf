// retrace dap: a Debug Adapter Protocol server for a recording, over stdio or a TCP port.
import { wholeNumber } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../recording.js';
import { IDENTITY_OPTION, TRUST_OPTION } from './shared-options.js';

export const command: Command = {
  name: 'dap',
  summary: 'Serve the Debug Adapter Protocol for a recording: a debugger that steps back, reverse-continues, runs to an event and to a value\'s last write',
  usage: ['[DIR] [--port PORT]'],
  operands: [{ name: 'DIR', help: 'the recording (default: recording; a launch configuration\'s "recording" overrides it)' }],
  options: [{ name: '--port', value: 'PORT', help: 'serve on 127.0.0.1:PORT, one session per connection (0: any free port, printed on stderr); default: stdin/stdout' }, IDENTITY_OPTION, TRUST_OPTION],
  notes: ['VS Code runs it through the extension in vscode/ (debug type "retrace"); see docs/debugging.md.'],
  async run(a) {
    const p = a.value('--port');
    const port = p === undefined ? null : wholeNumber(p, '--port');
    if (port !== null && port > 65535) throw new UsageError('--port takes a port number (0 to 65535)');
    const { run } = await import('../dap.js');
    return run({ recording: a.operands[0], port });
  },
};
