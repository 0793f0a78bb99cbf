// The `retrace` command line.
// The `retrace` command line: finds the command and hands it its arguments, read against the
// options it declares (src/cli/commands/).
import { TraceError } from '../core/trace/reader.js';
import { CorruptTraceError } from '../core/trace/codec.js';
import type { ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { nearest, parseArgs } from './args.js';
import { commandHelp, overviewHelp } from './command.js';
import { COMMANDS } from './commands/index.js';
import { say } from './output.js';
import { UsageError } from './recording.js';
import { retraceVersion } from '../runtime/paths.js';

function find(name: string): (typeof COMMANDS)[number] {
  const command = COMMANDS.find((c) => c.name === name);
  if (command) return command;
  const near = nearest(name, [...COMMANDS.map((c) => c.name), 'help']);
  throw new UsageError(`unknown command "${name}"${near ? ` (did you mean ${near}?)` : ''}: see retrace --help`);
}

/**
 * For a command that reads recordings: unwraps the key of an encrypted recording it names with the
 * identities given (the reader itself is synchronous), and notes --trust for the replays it starts.
 */
async function beforeReading(command: Command, args: ParsedArgs): Promise<void> {
  const declares = (name: string) => command.options.some((o) => o.name === name);
  if (declares('--trust') && args.has('--trust')) (await import('./replay.js')).trustRecording();
  if (!declares('--identity')) return;
  const { identityFiles, unlockRecordings } = await import('./encryption.js');
  await unlockRecordings([...args.operands], identityFiles(args.values('--identity')));
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case '--version':
    case '-v':
      process.stdout.write(`${retraceVersion()}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(`${overviewHelp(COMMANDS)}\n`);
      return name === undefined ? 2 : 0;
    case 'help': {
      if (rest.length > 1) throw new UsageError('help takes one command: retrace help COMMAND');
      process.stdout.write(`${rest[0] === undefined ? overviewHelp(COMMANDS) : commandHelp(find(rest[0]))}\n`);
      return 0;
    }
    default: {
      const command = find(name);
      const args = parseArgs(command, rest);
      if (args.help) {
        process.stdout.write(`${commandHelp(command)}\n`);
        return 0;
      }
      await beforeReading(command, args);
      return command.run(args);
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  // `retrace why ... | head`: a reader that stops early is not an error of ours
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  try {
    process.exitCode = await run(argv);
  } catch (err) {
    if (err instanceof UsageError || err instanceof TraceError || err instanceof CorruptTraceError) {
      say(err.message);
      process.exitCode = 2;
      return;
    }
    say(`internal error: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 70;
  }
}
