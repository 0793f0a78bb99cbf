// `retrace print`: being built (see the issue tracker); replaced by the real command.
import { UsageError } from './recording.js';

export async function run(_args: string[]): Promise<number> {
  throw new UsageError('retrace print is not built yet');
}
