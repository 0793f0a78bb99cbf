// retrace mcp: a Model Context Protocol server over stdio for the recordings in a folder (or one
// recording), for AI agents and the editors that host them. The server is src/mcp/server.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from '../command.js';
import { UsageError } from '../recording.js';
import { IDENTITY_OPTION, TRUST_OPTION } from './shared-options.js';

export const command: Command = {
  name: 'mcp',
  summary: 'Serve the Model Context Protocol on stdin/stdout: tools for an AI agent to read and replay recordings',
  usage: ['[RECORDING|FOLDER] [--cwd PROJECT] [--identity FILE] [--trust]'],
  operands: [{ name: 'RECORDING|FOLDER', help: 'one recording, or a folder whose recordings (up to four levels down) are listed as resources (default: .)' }],
  options: [
    { name: '--cwd', value: 'PROJECT', help: 'the project folder the recordings were made in: replays run there, and FOLDER is relative to it (default: the current folder)' },
    // main.ts unlocks only the operand itself; the server unwraps the keys of every recording it
    // lists under the folder, before each tool call
    IDENTITY_OPTION,
    TRUST_OPTION,
  ],
  notes: ['Tools: overview, timeline, event, failures, logpoint, evaluate, why, last_write, source, replay, list_recordings. See docs/mcp.md for the configuration of Claude Code, Claude Desktop, VS Code and Cursor.'],
  async run(a) {
    // identity files are named from where retrace was started, before --cwd moves
    const { identityFiles } = await import('../encryption.js');
    const identities = identityFiles(a.values('--identity')).map((f) => path.resolve(f));
    const cwd = a.value('--cwd');
    if (cwd !== undefined) {
      if (!fs.statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--cwd ${cwd} is not a folder`);
      process.chdir(cwd);
    }
    const { serveStdio } = await import('../../mcp/server.js');
    return serveStdio(a.operands[0] ?? '.', identities);
  },
};
