// How long `retrace dap` takes to go backwards on the shop demo (goal: a step back under one
// second). Records the shop (examples/shop/scripts/demo.mjs, PGlite unless DATABASE_URL names a
// PostgreSQL) unless --recording names one made from this repository, then drives `retrace dap`
// with a real DAP client (@vscode/debugadapter-testsupport): a breakpoint at the line of
// orders.ts that prices an order, continue to its third hit, then, several times, a step forward
// and a step back (each step back is a re-execution from the start in the spare replay), and a
// reverse continue (two re-executions: one counting breakpoint passes, one to the pass). Times are
// from the request to the stop and its first stack frame; the plain replay of the whole recording
// is the yardstick.
//
//   npm run bench:dap [-- --recording DIR] [--rounds N] [--no-write]
//
// Writes its section of BENCHMARKS.md (between the dap:begin and dap:end markers) unless --no-write.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { fmt, median, root, runProcess } from './common.mjs';

const { values } = parseArgs({ options: { recording: { type: 'string' }, rounds: { type: 'string', default: '5' }, 'no-write': { type: 'boolean', default: false } } });
const loadAtStart = os.loadavg();
const startedAt = new Date();
const rounds = Number(values.rounds);
const cli = path.join(root, 'bin', 'retrace.js');
const source = path.join(root, 'examples', 'shop', 'src', 'orders.ts');
const line = fs.readFileSync(source, 'utf8').split('\n').findIndex((l) => l.includes('const priced = priceOrder(')) + 1;

let recording = values.recording && path.resolve(values.recording);
if (!recording) {
  recording = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'retrace-bench-dap-')), 'recording');
  console.error('recording the shop demo...');
  const demo = await runProcess(process.execPath, [path.join(root, 'examples', 'shop', 'scripts', 'demo.mjs'), '--out', recording]);
  if (demo.code !== 0) throw new Error(`the shop demo failed:\n${demo.stdout}\n${demo.stderr}`);
}

const plain = [];
for (let i = 0; i < 3; i++) plain.push((await runProcess(process.execPath, [cli, 'replay', recording])).ms);

/** One debugging session; `checkpoint` false turns the checkpoint off (each step back replays from the start). */
async function session({ checkpoint, rounds, settleMs }) {
  const server = spawn(process.execPath, [cli, 'dap', recording, '--port', '0'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RETRACE_DAP_CHECKPOINT: checkpoint ? '1' : '0' } });
  const port = await new Promise((resolve, reject) => {
    let text = '';
    server.stderr.on('data', (d) => {
      text += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', () => reject(new Error(`retrace dap ended: ${text}`)));
  });
  const dc = new DebugClient(process.execPath, cli, 'retrace');
  dc.defaultTimeout = 120_000;
  await dc.start(port);

  /** Milliseconds from the request to the stop and its top frame; the frame. */
  async function timed(action) {
    const start = performance.now();
    const stopped = dc.waitForEvent('stopped');
    await action();
    await stopped;
    const st = await dc.stackTraceRequest({ threadId: 1, levels: 1 });
    const f = st.body.stackFrames[0];
    return { ms: performance.now() - start, at: `${path.relative(root, f.source?.path ?? '?')}:${f.line}` };
  }

  await dc.initializeRequest({ adapterID: 'retrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
  await dc.launch({ recording, cwd: root });
  await dc.setBreakpointsRequest({ source: { path: source }, breakpoints: [{ line }] });
  const first = await timed(() => dc.configurationDoneRequest());
  await timed(() => dc.continueRequest({ threadId: 1 }));
  const third = await timed(() => dc.continueRequest({ threadId: 1 }));
  const forward = [];
  const immediate = [];
  const back = [];
  let backAt = '';
  for (let i = 0; i < rounds; i++) {
    // The spare replay is started behind each re-execution: let it get ready, as it would while a
    // person looks at the stop.
    await new Promise((r) => setTimeout(r, settleMs));
    forward.push((await timed(() => dc.nextRequest({ threadId: 1 }))).ms);
    await new Promise((r) => setTimeout(r, settleMs));
    const b = await timed(() => dc.stepBackRequest({ threadId: 1 }));
    back.push(b.ms);
    backAt = b.at;
  }
  // Straight after a step, before the checkpoint has caught up.
  for (let i = 0; i < rounds; i++) {
    await timed(() => dc.nextRequest({ threadId: 1 }));
    immediate.push((await timed(() => dc.stepBackRequest({ threadId: 1 }))).ms);
    await new Promise((r) => setTimeout(r, settleMs));
  }
  await new Promise((r) => setTimeout(r, settleMs));
  const reverse = await timed(() => dc.customRequest('reverseContinue', { threadId: 1 }));
  await dc.stop();
  server.kill();

  return { first, third, forward, back, backAt, immediate, reverse };
}

const withCheckpoint = await session({ checkpoint: true, rounds, settleMs: 1500 });
const withoutCheckpoint = await session({ checkpoint: false, rounds: 3, settleMs: 500 });
const { first, third, forward, back, backAt, reverse, immediate } = withCheckpoint;
const result = {
  recording,
  breakpoint: `${path.relative(root, source)}:${line}`,
  plainReplayMs: median(plain),
  firstStopMs: first.ms,
  thirdHitAt: third.at,
  stepForwardMs: median(forward),
  stepBackMs: median(back),
  stepBackRuns: back.map((x) => Math.round(x)),
  stepBackAt: backAt,
  stepBackRightAfterStepMs: median(immediate),
  stepBackWithoutCheckpointMs: median(withoutCheckpoint.back),
  reverseContinueMs: reverse.ms,
  reverseContinueAt: reverse.at,
};
console.log(JSON.stringify(result, null, 2));
console.log(`\nstep back ${fmt(result.stepBackMs)} ms (median of ${rounds}; goal < 1000 ms), ${fmt(result.stepBackMs / result.plainReplayMs, 2)}x a plain replay of the whole recording (${fmt(result.plainReplayMs)} ms); right after a step ${fmt(result.stepBackRightAfterStepMs)} ms; without the checkpoint ${fmt(result.stepBackWithoutCheckpointMs)} ms; reverse continue ${fmt(result.reverseContinueMs)} ms; step forward ${fmt(result.stepForwardMs)} ms`);

if (!values['no-write']) {
  const commit = (await runProcess('git', ['rev-parse', '--short', 'HEAD'])).stdout.trim();
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const ms = (x) => `${fmt(x)} ms`;
  const lines = [
    '<!-- dap:begin (bench/dap.mjs replaces everything up to dap:end) -->',
    '',
    '## Debugger (`retrace dap`): going backwards',
    '',
    `Generated by \`npm run bench:dap\` (bench/dap.mjs) on ${startedAt.toISOString()} at commit ${commit}, Node.js ${process.version}, load average ${load(loadAtStart)} at the start and ${load(os.loadavg())} at the end (${os.availableParallelism()} cores); do not edit by hand.`,
    '',
    '### Method',
    '',
    `- The recording: \`npm run demo:shop\`'s (Express 5 + \`pg\`, TypeScript run from tsc's output). A real DAP client (@vscode/debugadapter-testsupport's DebugClient) drives \`retrace dap\` over a socket: a breakpoint at \`${result.breakpoint}\` (where an order is priced), continue to its third hit, then ${rounds} rounds of a step over and a step back, 1.5 s apart (a person looking at the stop), then ${rounds} rounds of a step back straight after a step, then a reverse continue.`,
    '- Each figure is the median time from sending the request to the stopped event and the top stack frame, as a user waits for it. Every step back and reverse continue re-executes the replay in a fresh process (the replay is deterministic); a step back goes to the stop before, reverse continue to the last breakpoint pass before the stop.',
    '- The adapter keeps a spare replay waiting before the program\'s first line, and a checkpoint: a replay run ahead, in the background, to the stop before the current one. "Without the checkpoint" is a second session with it turned off (`RETRACE_DAP_CHECKPOINT=0`): each step back replays from the start in the spare. "Right after a step" asks before the checkpoint has caught up.',
    '- The yardstick is a plain `retrace replay` of the whole recording (median of 3).',
    '',
    '| measure | time | / plain replay |',
    '|---|---|---|',
    `| plain replay of the whole recording | ${ms(result.plainReplayMs)} | 1 |`,
    `| first stop (launch to the first breakpoint hit) | ${ms(result.firstStopMs)} | ${fmt(result.firstStopMs / result.plainReplayMs, 2)} |`,
    `| step over | ${ms(result.stepForwardMs)} | ${fmt(result.stepForwardMs / result.plainReplayMs, 2)} |`,
    `| **step back** (goal: under 1 s) | **${ms(result.stepBackMs)}** (runs: ${result.stepBackRuns.join(', ')}) | ${fmt(result.stepBackMs / result.plainReplayMs, 2)} |`,
    `| step back right after a step | ${ms(result.stepBackRightAfterStepMs)} | ${fmt(result.stepBackRightAfterStepMs / result.plainReplayMs, 2)} |`,
    `| step back without the checkpoint | ${ms(result.stepBackWithoutCheckpointMs)} | ${fmt(result.stepBackWithoutCheckpointMs / result.plainReplayMs, 2)} |`,
    `| reverse continue (two re-executions) | ${ms(result.reverseContinueMs)} | ${fmt(result.reverseContinueMs / result.plainReplayMs, 2)} |`,
    '',
    `Step back: goal ${result.stepBackMs !== null && result.stepBackMs < 1000 ? '**met**' : '**not met**'} when the checkpoint is ready; a step back before it is ready, or any re-execution it cannot serve (reverse continue, run to an earlier event, last write), costs a replay from the start up to the stop.`,
    '',
    '<!-- dap:end -->',
  ];
  const file = path.join(root, 'BENCHMARKS.md');
  const doc = fs.readFileSync(file, 'utf8');
  const begin = doc.indexOf('<!-- dap:begin');
  const endMarker = '<!-- dap:end -->';
  const end = doc.indexOf(endMarker);
  const text = begin >= 0 && end > begin ? doc.slice(0, begin) + lines.join('\n') + doc.slice(end + endMarker.length) : `${doc.replace(/\n*$/, '\n\n')}${lines.join('\n')}\n`;
  fs.writeFileSync(file, text);
  console.log('wrote the Debugger section of BENCHMARKS.md');
}
