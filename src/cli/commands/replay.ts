// retrace replay: re-executes one recorded process with its recording as the outside world.
import { wholeNumber } from '../args.js';
import type { Command } from '../command.js';
import { IDENTITY_OPTION, TRUST_OPTION } from './shared-options.js';
import { UsageError } from '../recording.js';

export const command: Command = {
  name: 'replay',
  summary: 'Re-run a recorded process offline, with its recording as the outside world',
  usage: ['[DIR] [--process N | --test NAME] [--inspect[=PORT]] [--inspect-brk[=PORT]] [--stall-ms MS] [--identity FILE] [--trust]'],
  operands: [{ name: 'DIR', help: 'the recording (default: recording), or one of its p<N>.rtrc files' }],
  options: [
    { name: '--process', alias: '-p', value: 'N', help: 'the recorded process to replay (default: the first one; see retrace info)' },
    { name: '--test', alias: '-t', value: 'NAME', help: 'replay the process that ran this test: a test file, or a test\'s name\n(retrace info lists the test files each process ran)' },
    { name: '--inspect', value: 'PORT', optionalValue: true, help: 'passed to node: listen for a debugger (Chrome DevTools, VS Code)' },
    { name: '--inspect-brk', value: 'PORT', optionalValue: true, help: 'passed to node: listen for a debugger and wait for it before the first line' },
    { name: '--inspect-wait', value: 'PORT', optionalValue: true, help: 'passed to node: listen for a debugger and wait for it to attach' },
    { name: '--enable-source-maps', help: 'passed to node: stack traces point into TypeScript sources' },
    { name: '--stall-ms', value: 'MS', help: 'how long the program may run without reaching its next recorded event\nbefore replay reports a stall (default: 10000)' },
    IDENTITY_OPTION,
    TRUST_OPTION,
  ],
  notes: ['Run it from the project folder the recording was made in (or a copy of it). The exit status is the\nrecorded one; 86 means the program did something other than what was recorded (a divergence).'],
  async run(a) {
    const { replay } = await import('../replay.js');
    const p = a.value('--process');
    const test = a.value('--test');
    const stall = a.value('--stall-ms');
    const location = a.operands[0] ?? 'recording';
    let processNumber = p === undefined ? undefined : wholeNumber(p, '--process');
    if (test !== undefined) {
      if (processNumber !== undefined) throw new UsageError('give --process or --test, not both');
      const { processForTest } = await import('../tests.js');
      const { say } = await import('../output.js');
      const found = processForTest(location, test);
      processNumber = found.process;
      say(`"${test}" ran in process ${found.process}${found.others.length > 0 ? ` (also named by process${found.others.length > 1 ? 'es' : ''} ${found.others.join(', ')})` : ''}`);
    }
    const passed = new Set(['--inspect', '--inspect-brk', '--inspect-wait', '--enable-source-maps']);
    return replay({
      location,
      process: processNumber,
      nodeFlags: a.given.filter((g) => passed.has(g.name)).map((g) => g.raw),
      stallMs: stall === undefined ? undefined : wholeNumber(stall, '--stall-ms'),
    });
  },
};
