// Short, readable renderings of recorded values for reports and `retrace info`.
import { inspect } from 'node:util';

export function describeValue(value: unknown, maxLength = 200): string {
  const text = inspect(value, { depth: 3, breakLength: Infinity, maxArrayLength: 8, maxStringLength: 80, compact: true });
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

export function describeCall(channel: string, args: unknown): string {
  if (Array.isArray(args)) return `${channel}(${args.map((a) => describeValue(a, 120)).join(', ')})`;
  if (args === undefined) return `${channel}()`;
  return `${channel}(${describeValue(args)})`;
}
