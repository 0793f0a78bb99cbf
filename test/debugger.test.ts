// Debugging a replay over the real inspector protocol, as VS Code and Chrome DevTools do it:
// `retrace replay --inspect-brk` of a recorded TypeScript program (compiled by tsc with source
// maps), a breakpoint set in the .ts file through the source map, the paused frame's locals read
// and compared with the values the recorded run printed, a step, and the replay running on to the
// recorded output and exit status: pausing does not change what the replay does.
//
// The debugger (debugger-driver.ts) runs in the replay's network namespace: with `unshare -n` the
// replay has no network at all, and its inspector is on a loopback nothing outside can reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { offlineCommand, cli, describeRun, record, repoRoot, retrace, workdir, writeFiles, type Run } from './helpers.js';
import { preloadPath } from '../src/runtime/paths.js';
import type { DebugPlan, DebugReport } from './debugger-driver.js';

const FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'debuggee');
const COMPILED = path.join(repoRoot, 'dist', 'test', 'fixtures', 'debuggee');
const driver = path.join(repoRoot, 'dist', 'test', 'debugger-driver.js');

function lineOf(file: string, marker: string): number {
  const i = fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, `${marker} not in ${file}`);
  return i + 1;
}

function programEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('RETRACE_') && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`;
  return { ...env, ...extra };
}

/** Debugs a replay with the driver, offline (in a network namespace of its own). */
function debugReplay(plan: DebugPlan): DebugReport {
  const planFile = path.join(plan.cwd, 'debug-plan.json');
  fs.writeFileSync(planFile, JSON.stringify(plan));
  const command = [process.execPath, driver, planFile];
  // In a new network namespace the loopback starts down: bring it up for the inspector only.
  const [prefix, ...rest] = offlineCommand(['sh', '-c', 'ip link set lo up && exec "$0" "$@"', ...command]);
  const r = spawnSync(prefix!, rest, { encoding: 'utf8', timeout: 90_000 });
  assert.equal(r.status, 0, `the debugger driver failed\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as DebugReport;
}

/** `retrace record` without blocking this process, which serves the program's HTTP requests meanwhile. */
function recordWhileServing(cwd: string, command: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, [cli, 'record', '--force', '--out', 'recording', '--', ...command], { cwd, env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (status, signal) => {
      clearTimeout(killer);
      resolve({ status, signal, stdout, stderr });
    }),
  );
}

async function priceServer(): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ price: Math.round(Math.random() * 100_000) / 100 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** Records the fixture program against a price server that is gone afterwards; the values it printed. */
async function recordQuoteProgram(): Promise<{ dir: string; rec: Run; price: number; jitter: number; total: number }> {
  const dir = workdir('retrace-debug-');
  const prices = await priceServer();
  let rec: Run;
  try {
    rec = await recordWhileServing(dir, [process.execPath, path.join(COMPILED, 'main.js')], programEnv({ PRICE_URL: prices.url }));
  } finally {
    prices.close(); // gone for the replay
  }
  assert.equal(rec.status, 3, describeRun(rec));
  assert.match(rec.stdout, /^price .*\ntimer after \d+ ms\n$/);
  const m = /^price (\S+) jitter (\S+) total (\S+)$/m.exec(rec.stdout);
  assert.ok(m, rec.stdout);
  return { dir, rec, price: Number(m[1]), jitter: Number(m[2]), total: Number(m[3]) };
}

/** The checks at the breakpoint in quote.ts and one step further: the recorded values, the right lines. */
function assertStoppedWithRecordedValues(report: DebugReport, recorded: { rec: Run; price: number; jitter: number; total: number }, line: number): void {
  const replayRun = { status: report.status, signal: report.signal as NodeJS.Signals | null, stdout: report.stdout, stderr: report.stderr };
  const source = path.join(FIXTURE, 'quote.ts');
  assert.equal(report.hits.length, 1, describeRun(replayRun));
  const { atBreakpoint, afterStepOver } = report.hits[0]!;
  assert.equal(atBreakpoint.reason, 'other');
  assert.deepEqual([atBreakpoint.file, atBreakpoint.line], [source, line]);
  // The locals hold what the recorded run computed from its HTTP response and Math.random.
  assert.equal(atBreakpoint.values.price, recorded.price);
  assert.equal(atBreakpoint.values.jitter, recorded.jitter);
  assert.equal(atBreakpoint.values.cents, Math.round(recorded.price * 100));
  assert.ok(typeof atBreakpoint.values.jitterCents === 'object', 'jitterCents is not assigned yet at the breakpoint');

  assert.deepEqual([afterStepOver.file, afterStepOver.line], [source, line + 1]);
  assert.equal(afterStepOver.values.jitterCents, Math.round(recorded.jitter * 100));
  assert.equal((Number(afterStepOver.values.cents) + Number(afterStepOver.values.jitterCents)) / 100, recorded.total);

  // The replay went on as recorded: the same output, the same exit status, no divergence.
  assert.equal(report.stdout, recorded.rec.stdout, describeRun(replayRun));
  assert.equal(report.status, 3, describeRun(replayRun));
  assert.doesNotMatch(report.stderr, /retrace: replay (diverged|stalled)/);
}

test('a breakpoint in a .ts file of a replayed program stops with the recorded values, and pausing does not change the replay', async () => {
  const recorded = await recordQuoteProgram();
  const { dir } = recorded;
  const source = path.join(FIXTURE, 'quote.ts');
  const line = lineOf(source, '// BREAKPOINT');
  const report = debugReplay({
    cwd: dir,
    // The program is the repository's fixture, outside the recording's folder: the user trusts it.
    command: [process.execPath, cli, 'replay', '--trust', '--inspect-brk=0'],
    env: programEnv(),
    start: 'break',
    breakpoints: [
      { generated: path.join(COMPILED, 'quote.js'), source, line, evaluate: ['price', 'jitter', 'cents', 'jitterCents', 'total'], holdMs: 500 },
    ],
  });
  // --inspect-brk stops first in the program itself (in an ES module graph, the first module
  // evaluated: quote.ts, which main.ts imports), not in retrace's preload.
  assert.ok(report.firstPause);
  assert.equal(report.firstPause.reason, 'Break on start');
  assert.equal(path.dirname(report.firstPause.file), FIXTURE, JSON.stringify(report.firstPause));
  // Stopped there, the program's modules are loaded: V8 binds the breakpoint at once.
  assert.equal(report.bound[0]?.length, 1, `V8 bound the breakpoint once: ${JSON.stringify(report.bound)}`);
  assertStoppedWithRecordedValues(report, recorded, line);
});

test('--inspect-brk of a replayed CommonJS program stops first in the program, not in the preload', () => {
  const dir = workdir('retrace-debug-');
  writeFiles(dir, { 'app.cjs': 'const n = Math.random();\nconsole.log("n", n);\n' });
  const rec = record(dir, [process.execPath, 'app.cjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const report = debugReplay({
    cwd: dir,
    command: [process.execPath, cli, 'replay', '--inspect-brk=0'],
    env: programEnv(),
    start: 'break',
    breakpoints: [],
  });
  assert.ok(report.firstPause);
  assert.equal(report.firstPause.file, path.join(fs.realpathSync(dir), 'app.cjs'));
  assert.equal(report.firstPause.line, 1);
  assert.equal(report.stdout, rec.stdout);
  assert.equal(report.status, 0);
});

// Stands in for the bootloader of VS Code's JavaScript debugger, which VS Code puts in NODE_OPTIONS
// of the program it launches and so of every Node.js process that program starts: like it, it
// reads a folder and runs a child process, then opens the inspector and holds the process until
// the debugger has attached. (VS Code attaches to the retrace CLI too; this driver debugs the
// replayed program only.)
const BOOTLOADER = `
const inspector = require('node:inspector');
if (!/retrace\\.js$/.test(process.argv[1] ?? '')) {
  require('node:fs').readdirSync(require('node:os').tmpdir());
  require('node:child_process').spawnSync(process.execPath, ['-e', '0'], { env: {} });
  inspector.open(0, '127.0.0.1', false);
  inspector.waitForDebugger();
}
`;

test('the configuration `retrace vscode` writes, launched the way VS Code launches it, stops at a .ts breakpoint with the recorded values', async () => {
  const recorded = await recordQuoteProgram();
  const { dir } = recorded;
  // The program is the repository's fixture, outside the recording's folder: the configuration carries --trust.
  const written = retrace(dir, ['vscode', '--trust']);
  assert.equal(written.status, 0, describeRun(written));
  const launch = JSON.parse(fs.readFileSync(path.join(dir, '.vscode', 'launch.json'), 'utf8')) as {
    configurations: Array<{ name: string; type: string; request: string; runtimeExecutable: string; program: string; args: string[]; cwd: string; skipFiles: string[] }>;
  };
  const config = launch.configurations.find((c) => c.name === 'retrace: replay recording');
  assert.ok(config, JSON.stringify(launch));
  assert.deepEqual([config.type, config.request], ['node', 'launch']);
  const resolve = (v: string) => v.replaceAll('${workspaceFolder}', dir);
  // Stepping skips retrace's replay layer: its preload is under a skipFiles pattern.
  assert.ok(
    config.skipFiles.some((glob) => glob.endsWith('/**') && preloadPath().startsWith(resolve(glob.slice(0, -2)))),
    JSON.stringify(config.skipFiles),
  );

  writeFiles(dir, { 'bootloader.cjs': BOOTLOADER });
  const report = debugReplay({
    cwd: resolve(config.cwd),
    command: [config.runtimeExecutable, resolve(config.program), ...config.args.map(resolve)],
    env: programEnv({ NODE_OPTIONS: `--require=${path.join(dir, 'bootloader.cjs')}` }),
    start: 'wait',
    breakpoints: [
      { generated: path.join(COMPILED, 'quote.js'), source: path.join(FIXTURE, 'quote.ts'), line: lineOf(path.join(FIXTURE, 'quote.ts'), '// BREAKPOINT'), evaluate: ['price', 'jitter', 'cents', 'jitterCents'], holdMs: 200 },
    ],
  });
  assert.equal(report.firstPause, null);
  assertStoppedWithRecordedValues(report, recorded, lineOf(path.join(FIXTURE, 'quote.ts'), '// BREAKPOINT'));
});
