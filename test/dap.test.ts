// `retrace dap` driven by a real Debug Adapter Protocol client (@vscode/debugadapter-testsupport's
// DebugClient, what VS Code's own adapters are tested with) over a socket, on the recording of a
// TypeScript program compiled by tsc with source maps. Every value checked is one the recorded run
// printed (Math.random), so only a replay of the recording, stopped at the right place, has it:
// a breakpoint in the .ts file, continue, step back to the line before with the earlier values,
// reverse continue to the previous hit, run to an event of the timeline, and the last write of a
// property landing on the assignment that made its value.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { canUnshare, cli, describeRun, record, repoRoot, retrace, workdir, writeFiles } from './helpers.js';

const PROGRAM = `// A loop whose values come from Math.random: only the recording knows them.
function add(a: number, b: number): number {
  const sum = a + b;
  return sum;
}
const order = { total: 0 };
for (let i = 0; i < 3; i++) {
  const r = Math.random();
  order.total = add(order.total, Math.round(r * 100)); // ASSIGN
  console.log(\`step \${i} r \${r} total \${order.total}\`); // BREAK
}
setTimeout(() => {
  console.log('done', order.total);
}, 5);
`;
const LINE = { assign: 9, break: 10 };

interface Recorded {
  dir: string;
  source: string;
  steps: { r: number; total: number }[];
}

let recorded: Recorded | null = null;
function recordProgram(): Recorded {
  if (recorded) return recorded;
  const dir = workdir('retrace-dap-');
  writeFiles(dir, {
    'src/prog.ts': PROGRAM,
    'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'es2022', module: 'nodenext', sourceMap: true, outDir: 'dist', rootDir: 'src', strict: true, types: [] } }),
    'package.json': '{"type":"module"}',
  });
  const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  const rec = record(dir, [process.execPath, 'dist/prog.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  const steps = [...rec.stdout.matchAll(/^step \d r (\S+) total (\d+)$/gm)].map((m) => ({ r: Number(m[1]), total: Number(m[2]) }));
  assert.equal(steps.length, 3, rec.stdout);
  recorded = { dir, source: path.join(dir, 'src', 'prog.ts'), steps };
  return recorded;
}

const servers: ChildProcess[] = [];
after(() => {
  for (const s of servers) s.kill();
});

/** `retrace dap RECORDING --port 0` in dir, and a DebugClient connected to it, launched and initialized. */
async function session(dir: string): Promise<DebugClient> {
  const server = spawn(process.execPath, [cli, 'dap', 'recording', '--port', '0'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  servers.push(server);
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    server.stderr!.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', () => reject(new Error(`retrace dap ended: ${text}`)));
  });
  const dc = new DebugClient(process.execPath, cli, 'retrace');
  dc.defaultTimeout = 60_000;
  await dc.start(port);
  await dc.initializeRequest({ adapterID: 'retrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
  await dc.launch({ recording: 'recording' });
  return dc;
}

interface At {
  file: string;
  line: number;
  values: Record<string, string>;
  description: string;
}

/** Runs `action`, waits for the stop it causes, and reads where it is and the top frame's locals. */
async function stopAfter(dc: DebugClient, action: () => Promise<unknown>): Promise<At> {
  const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await action();
  const ev = await stopped;
  const st = await dc.stackTraceRequest({ threadId: 1 });
  const top = st.body.stackFrames[0]!;
  const scopes = await dc.scopesRequest({ frameId: top.id });
  const values: Record<string, string> = {};
  for (const scope of scopes.body.scopes.filter((s) => !s.expensive)) {
    const vars = await dc.variablesRequest({ variablesReference: scope.variablesReference });
    for (const v of vars.body.variables) values[v.name] ??= v.value;
  }
  return { file: top.source?.path ?? '', line: top.line, values, description: ev.body.description ?? '' };
}

async function evaluate(dc: DebugClient, expression: string): Promise<string> {
  return (await dc.evaluateRequest({ expression, frameId: 0, context: 'watch' })).body.result;
}

test('a breakpoint in a .ts file, continue, step back with the earlier values, reverse continue to the previous hit', { timeout: 300_000 }, async () => {
  const { dir, source, steps } = recordProgram();
  const dc = await session(dir);
  try {
    const bp = await dc.setBreakpointsRequest({ source: { path: source }, breakpoints: [{ line: LINE.break }] });
    assert.deepEqual(bp.body.breakpoints.map((b) => [b.verified, b.line]), [[true, LINE.break]]);

    const first = await stopAfter(dc, () => dc.configurationDoneRequest());
    assert.deepEqual([first.file, first.line], [source, LINE.break]);
    assert.equal(Number(first.values.r), steps[0]!.r);
    assert.equal(Number(await evaluate(dc, 'order.total')), steps[0]!.total);

    const second = await stopAfter(dc, () => dc.continueRequest({ threadId: 1 }));
    assert.deepEqual([second.file, second.line], [source, LINE.break]);
    assert.equal(Number(second.values.r), steps[1]!.r);

    // One step on (the loop's i++), then back: the line before, with the values it had.
    const stepped = await stopAfter(dc, () => dc.nextRequest({ threadId: 1 }));
    assert.notEqual(stepped.line, LINE.break);
    const back = await stopAfter(dc, () => dc.stepBackRequest({ threadId: 1 }));
    assert.deepEqual([back.file, back.line], [source, LINE.break]);
    assert.equal(Number(back.values.r), steps[1]!.r);
    assert.equal(Number(await evaluate(dc, 'order.total')), steps[1]!.total);

    // Reverse continue: the previous hit of the breakpoint, with the first iteration's values.
    const previous = await stopAfter(dc, () => dc.customRequest('reverseContinue', { threadId: 1 }));
    assert.deepEqual([previous.file, previous.line], [source, LINE.break]);
    assert.equal(Number(previous.values.r), steps[0]!.r);
    assert.equal(Number(await evaluate(dc, 'order.total')), steps[0]!.total);

    // Forward again from there: the second hit, as before.
    const again = await stopAfter(dc, () => dc.continueRequest({ threadId: 1 }));
    assert.equal(Number(again.values.r), steps[1]!.r);

    // From the first hit there is no earlier one: an error, and the session stays where it was.
    await stopAfter(dc, () => dc.customRequest('reverseContinue', { threadId: 1 }));
    await assert.rejects(dc.customRequest('reverseContinue', { threadId: 1 }), /no breakpoint was hit before this point/);
    assert.equal(Number(await evaluate(dc, 'r')), steps[0]!.r);

    // An expression that would call a recorded API is refused, not run.
    await assert.rejects(dc.evaluateRequest({ expression: 'Math.random()', frameId: 0, context: 'repl' }), /side-effect-free/);
  } finally {
    await dc.stop();
  }
});

test('run to an event of the timeline, and run back to the last write of a property', { timeout: 300_000 }, async () => {
  const { dir, source, steps } = recordProgram();
  const dc = await session(dir);
  try {
    const timeline = await dc.customRequest('retrace/timeline', {});
    const randoms = (timeline.body.entries as { event: number; kind: string; summary: string }[]).filter((e) => e.kind === 'random');
    assert.equal(randoms.length, 3, JSON.stringify(timeline.body));
    assert.match(randoms[2]!.summary, new RegExp(String(steps[2]!.r).replace('.', '\\.')));
    await dc.setBreakpointsRequest({ source: { path: source }, breakpoints: [{ line: LINE.break }] });
    await stopAfter(dc, () => dc.configurationDoneRequest());

    // The third Math.random: the program's next statement after the call that made it.
    const atEvent = await stopAfter(dc, () => dc.customRequest('retrace/runToEvent', { event: randoms[2]!.event }));
    assert.deepEqual([atEvent.file, atEvent.line], [source, LINE.assign]);
    assert.equal(Number(atEvent.values.r), steps[2]!.r);
    assert.match(atEvent.description, new RegExp(`event ${randoms[2]!.event}`));
    // And back to an earlier event: a re-execution from the start.
    const earlier = await stopAfter(dc, () => dc.customRequest('retrace/runToEvent', { event: randoms[1]!.event }));
    assert.equal(Number(earlier.values.r), steps[1]!.r);
    await assert.rejects(dc.customRequest('retrace/runToEvent', { event: 10_000 }), /never consumed event 10000/);
    assert.equal(Number(await evaluate(dc, 'r')), steps[1]!.r, 'after a failed run to an event, the session is where it was');

    // At the second hit of the breakpoint, order.total's last write is the assignment of the
    // second iteration: the replay runs back to it (before it runs, r of that iteration).
    await stopAfter(dc, () => dc.continueRequest({ threadId: 1 }));
    const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    const answer = await dc.customRequest('retrace/lastWrite', { expression: 'order.total' });
    await stopped;
    assert.equal(answer.body.value, String(steps[1]!.total));
    assert.deepEqual([answer.body.stored.file, answer.body.stored.line], [source, LINE.assign]);
    assert.equal(answer.body.pass, 2);
    const st = await dc.stackTraceRequest({ threadId: 1 });
    assert.deepEqual([st.body.stackFrames[0]!.source?.path, st.body.stackFrames[0]!.line], [source, LINE.assign]);
    assert.equal(Number(await evaluate(dc, 'r')), steps[1]!.r);
    assert.equal(Number(await evaluate(dc, 'order.total')), steps[0]!.total, 'stopped before the assignment runs');
    // One step: the assignment made the value asked about.
    await stopAfter(dc, () => dc.nextRequest({ threadId: 1 }));
    assert.equal(Number(await evaluate(dc, 'order.total')), steps[1]!.total);
  } finally {
    await dc.stop();
  }
});

test('npm run package:vscode builds the extension\'s .vsix offline, with the debugger type, timeline view and last-write command', { timeout: 180_000 }, () => {
  const npm = path.join(path.dirname(process.execPath), 'npm');
  const command = fs.existsSync(npm) ? [npm, 'run', 'package:vscode'] : ['npm', 'run', 'package:vscode'];
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
  const r = canUnshare()
    ? spawnSync('unshare', ['-n', ...command], { cwd: repoRoot, encoding: 'utf8', env, timeout: 120_000 })
    : spawnSync(command[0]!, command.slice(1), { cwd: repoRoot, encoding: 'utf8', env, timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const vsix = fs.readFileSync(path.join(repoRoot, 'dist', 'retrace-debug.vsix'));
  // A zip: its file names are stored as they are.
  assert.ok(vsix.includes('extension/out/extension.js'), 'the compiled extension is in the package');
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'vscode', 'package.json'), 'utf8'));
  assert.deepEqual(manifest.contributes.debuggers.map((d: { type: string }) => d.type), ['retrace']);
  assert.ok(manifest.contributes.views.debug.some((v: { id: string }) => v.id === 'retrace.timeline'));
  assert.ok(manifest.contributes.commands.some((c: { command: string }) => c.command === 'retrace.lastWrite'));
});

test('retrace vscode --dap writes a configuration of the retrace debug type, beside the node one', () => {
  const { dir } = recordProgram();
  assert.equal(retrace(dir, ['vscode']).status, 0);
  const r = retrace(dir, ['vscode', '--dap']);
  assert.equal(r.status, 0, describeRun(r));
  const launch = JSON.parse(fs.readFileSync(path.join(dir, '.vscode', 'launch.json'), 'utf8')) as { configurations: Record<string, string>[] };
  assert.deepEqual(launch.configurations.map((c) => [c.name, c.type]), [['retrace: replay recording', 'node'], ['retrace: debug recording (step back)', 'retrace']]);
  const dap = launch.configurations[1]!;
  assert.deepEqual([dap.request, dap.recording, dap.cwd], ['launch', 'recording', '${workspaceFolder}']);
  assert.ok(fs.existsSync(dap.retrace!.replace('${workspaceFolder}', dir)), dap.retrace);
});

test('retrace dap over stdin/stdout: answers initialize with step back, and ends when the client closes its input', { timeout: 60_000 }, async () => {
  const { dir } = recordProgram();
  const child = spawn(process.execPath, [cli, 'dap'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  servers.push(child);
  const body = JSON.stringify({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'retrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' } });
  child.stdin!.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  let out = '';
  const response = await new Promise<{ success: boolean; body: { supportsStepBack?: boolean } }>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /Content-Length: (\d+)\r\n\r\n/.exec(out);
      if (m && out.length >= m.index + m[0].length + Number(m[1])) resolve(JSON.parse(out.slice(m.index + m[0].length, m.index + m[0].length + Number(m[1]))));
    });
    child.on('exit', () => reject(new Error(`retrace dap ended: ${out}`)));
  });
  assert.equal(response.success, true);
  assert.equal(response.body.supportsStepBack, true);
  child.stdin!.end();
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  assert.equal(status, 0);
});
