// How the CLI talks: our messages go to stderr with a prefix; the program's stdout is its own.
import * as os from 'node:os';

export function say(message: string): void {
  process.stderr.write(`retrace: ${message}\n`);
}

/** The exit status to mirror a child's: its code, or 128 + signal number as a shell reports it. */
export function exitLike(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (os.constants.signals[signal] ?? 0);
  return code ?? 1;
}
