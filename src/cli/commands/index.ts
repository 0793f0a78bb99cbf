// Every `retrace` command, in the order `retrace --help` lists them. A new command is one file in
// this folder (see docs/architecture.md, "Adding a command") and one line here.
import type { Command } from '../command.js';
import { command as record } from './record.js';
import { command as replay } from './replay.js';
import { command as info } from './info.js';
import { command as show } from './show.js';
import { command as print } from './print.js';
import { command as why } from './why.js';
import { command as vscode } from './vscode.js';
import { command as pack } from './pack.js';
import { command as unpack } from './unpack.js';
import { command as dap } from './dap.js';
import { command as mcp } from './mcp.js';
import { command as keygen } from './keygen.js';
import { command as prune } from './prune.js';

export const COMMANDS: readonly Command[] = [record, replay, info, show, print, why, vscode, dap, mcp, pack, unpack, keygen, prune];
