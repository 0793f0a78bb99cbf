// `retrace vscode`: being built (see the issue tracker); replaced by the real command.
import { UsageError } from './recording.js';

export async function run(_args: string[]): Promise<number> {
  throw new UsageError('retrace vscode is not built yet');
}
