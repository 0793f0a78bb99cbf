// Options that every command reading a recording shares (docs/security.md): the private key of an
// encrypted recording, and trusting a recording's own Node.js flags. main.ts acts on them before
// the command runs, for any command that declares them.
import type { OptionSpec } from '../command.js';

export const IDENTITY_OPTION: OptionSpec = {
  name: '--identity',
  alias: '-i',
  value: 'FILE',
  help: 'an age identity file (retrace keygen, age-keygen) to read an encrypted recording\n(default: the file named by RETRACE_IDENTITY)',
};

export const TRUST_OPTION: OptionSpec = {
  name: '--trust',
  help: 'run the Node.js flags the recording asks for (--import, --require, --eval, loaders)\nand a program outside this project, which are refused otherwise',
};
