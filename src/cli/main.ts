// The `retrace` command line.
import { TraceError } from '../core/trace/reader.js';
import { readArgs, wholeNumber } from './args.js';
import { formatInfo, info } from './info.js';
import { say } from './output.js';
import { record } from './record.js';
import { UsageError } from './recording.js';
import { replay } from './replay.js';
import { retraceVersion } from '../runtime/paths.js';

const USAGE = `usage:
  retrace record [--out DIR] [--force] -- COMMAND [ARGS...]
  retrace replay [DIR] [--process N] [--inspect[=PORT]] [--inspect-brk[=PORT]] [--stall-ms MS]
  retrace info [DIR] [--json]
  retrace show [DIR] [--kind K,...] [--grep TEXT] [--process N] [--from MS] [--to MS] [--limit N] [--json] [--all] [--no-pager]
  retrace show [DIR] --event N [--json]
  retrace print [DIR] --at FILE:LINE[:COL] --expr EXPR [--hit N] [--json]
  retrace why [DIR] --at FILE:LINE[:COL] --expr EXPR [--hit N|last] [--scope auto|narrow|all] [--control] [--json] [--html FILE]
  retrace vscode [DIR]
DIR defaults to ./recording.`;

// Commands that live in their own module, loaded only when asked for, so that `record` and
// `replay` start without paying for the inspection tools. Each module exports
// `run(args: string[]): Promise<number>` and throws UsageError for bad arguments.
const LAZY_COMMANDS: Record<string, () => Promise<{ run(args: string[]): Promise<number> }>> = {
  show: () => import('./show.js'),
  print: () => import('./print.js'),
  why: () => import('./why.js'),
  vscode: () => import('./vscode.js'),
};

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'record': {
      let out = 'recording';
      let force = false;
      let i = 0;
      for (; i < rest.length; i++) {
        const a = rest[i]!;
        if (a === '--') {
          i++;
          break;
        }
        if (a === '--out' || a === '-o') {
          const v = rest[++i];
          if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
          out = v;
        } else if (a.startsWith('--out=')) out = a.slice(6);
        else if (a === '--force') force = true;
        else if (a.startsWith('-')) throw new UsageError(`unknown option for record: ${a}`);
        else break;
      }
      return record({ out, force, command: rest.slice(i) });
    }
    case 'replay': {
      let proc: number | undefined;
      let stallMs: number | undefined;
      const nodeFlags: string[] = [];
      const location = readArgs('replay', rest, (flag) => {
        if (flag.name === '--process' || flag.name === '-p') proc = wholeNumber(flag.value(), '--process');
        else if (flag.name === '--stall-ms') stallMs = wholeNumber(flag.value(), '--stall-ms');
        else if (/^--inspect(-brk|-wait)?(=.*)?$/.test(flag.raw) || flag.raw === '--enable-source-maps') nodeFlags.push(flag.raw);
        else return false;
        return true;
      });
      return replay({ location, process: proc, nodeFlags, stallMs });
    }
    case 'info': {
      let json = false;
      const location = readArgs('info', rest, (flag) => {
        if (flag.name !== '--json') return false;
        json = true;
        return true;
      });
      const processes = info(location);
      process.stdout.write(json ? `${JSON.stringify(processes, null, 2)}\n` : `${formatInfo(processes)}\n`);
      return 0;
    }
    case '--version':
    case '-v':
      process.stdout.write(`${retraceVersion()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default: {
      const load = command ? LAZY_COMMANDS[command] : undefined;
      if (load) return (await load()).run(rest);
      throw new UsageError(`unknown command "${command}": see retrace --help`);
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
    if (err instanceof UsageError || err instanceof TraceError) {
      say(err.message);
      process.exitCode = 2;
      return;
    }
    say(`internal error: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 70;
  }
}
