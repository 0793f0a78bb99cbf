// retrace show: the timeline of a recording's external events, one line each, or one event in full.
import { wholeNumber } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../recording.js';
import { IDENTITY_OPTION } from './shared-options.js';

const ms = (v: string, flag: string) => {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`${flag} takes milliseconds since the recording started (a number), not "${v}"`);
  return Number(v);
};
const optional = <T>(v: string | undefined, read: (v: string) => T): T | null => (v === undefined ? null : read(v));

export const command: Command = {
  name: 'show',
  summary: 'The timeline of a recording: every external event in one line, or one event in full',
  usage: [
    '[DIR] [--kind K,...] [--grep TEXT] [--process N] [--from MS] [--to MS] [--limit N] [--json] [--all] [--no-pager]',
    '[DIR] --event N [--json]',
  ],
  operands: [{ name: 'DIR', help: 'the recording (default: recording)' }],
  options: [
    { name: '--kind', alias: '-k', value: 'K,...', help: 'only these kinds of event (repeatable): http, http.in, http.out, sql, db, pg, mysql,\nredis, net, fs, time, random, crypto, timers, env, process, crash, child, dns, stdin, os,\nother, engine' },
    { name: '--grep', alias: '-g', value: 'TEXT', anyText: true, help: 'only lines whose summary or kind contains TEXT (any case)' },
    { name: '--process', alias: '-p', value: 'N', help: 'only recorded process N (default: all, merged by time)' },
    { name: '--from', value: 'MS', help: 'from this many milliseconds after the recording started' },
    { name: '--to', value: 'MS', help: 'up to this many milliseconds after the recording started' },
    { name: '--limit', alias: '-n', value: 'N', help: 'at most N lines' },
    { name: '--event', alias: '-e', value: 'N', help: 'event N (the number in the first column) in full: request, response, rows' },
    { name: '--json', help: 'one JSON object per line' },
    { name: '--all', help: 'also the low-level events the timeline folds into one line' },
    { name: '--no-pager', help: 'write to stdout even on a terminal (default: less, when it is one)' },
    IDENTITY_OPTION,
  ],
  async run(a) {
    const from = optional(a.value('--from'), (v) => ms(v, '--from'));
    const to = optional(a.value('--to'), (v) => ms(v, '--to'));
    if (from !== null && to !== null && to < from) throw new UsageError(`--to ${to} is before --from ${from}`);
    const { run } = await import('../show.js');
    return run({
      location: a.operands[0] ?? 'recording',
      kinds: a.values('--kind').flatMap((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)),
      grep: a.value('--grep') ?? null,
      process: optional(a.value('--process'), (v) => wholeNumber(v, '--process')),
      from,
      to,
      limit: optional(a.value('--limit'), (v) => wholeNumber(v, '--limit')),
      json: a.has('--json'),
      event: optional(a.value('--event'), (v) => wholeNumber(v, '--event')),
      all: a.has('--all'),
      pager: !a.has('--no-pager'),
    });
  },
};
