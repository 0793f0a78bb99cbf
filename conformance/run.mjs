#!/usr/bin/env node
// The conformance corpus: real programs, installed from npm at pinned versions, each run plain,
// recorded, and replayed twice offline; replay must end with the recorded exit status and print
// the recorded stdout byte for byte, and diverge nowhere. Writes CONFORMANCE.md.
//
//   npm run conformance                      every program (the full corpus, on demand)
//   npm run conformance -- --subset ci       the programs marked `ci` (CI runs these; must pass)
//   npm run conformance -- --only tsc,ws     the named programs
//   options: --report FILE (default: CONFORMANCE.md for a full run, none for a subset),
//            --work DIR (scratch folder; default $TMPDIR/retrace-conformance), --keep-going
//
// Each program is one declaration in conformance/programs/ (see conformance/README.md).
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const cli = path.join(repoRoot, 'bin', 'retrace.js');
const node = process.execPath;
const EXIT_DIVERGED = 86;
const SERVICES = { postgres: 5432, mariadb: 3306, redis: 6379, rabbitmq: 5672, mosquitto: 1883, nats: 4222 };

const args = parseArgs(process.argv.slice(2));
const workRoot = path.resolve(args.work ?? path.join(os.tmpdir(), 'retrace-conformance'));

if (!fs.existsSync(path.join(repoRoot, 'dist', 'src', 'cli', 'info.js'))) {
  console.error('conformance: build first (npm run build)');
  process.exit(2);
}
const { info } = await import(pathToFileURL(path.join(repoRoot, 'dist', 'src', 'cli', 'info.js')).href);

const programs = await loadPrograms();
const selected = programs.filter((p) => {
  if (args.only) return args.only.includes(p.name);
  if (args.subset === 'ci') return p.ci === true;
  if (args.subset && args.subset !== 'all') return p.kind === args.subset;
  return true;
});
if (args.only) for (const n of args.only) if (!programs.some((p) => p.name === n)) fail(`no program named ${n} (see conformance/programs/)`);
if (selected.length === 0) fail('no program selected');

const unshareWorks = spawnSync('unshare', ['-n', 'true']).status === 0;
if (!unshareWorks) console.error('conformance: warning: unshare -n is not available here; replays run with the network reachable');

const results = [];
for (const program of selected) {
  const started = Date.now();
  process.stderr.write(`conformance: ${program.name} ... `);
  let result;
  try {
    result = await runOne(program);
  } catch (err) {
    result = { program, status: 'error', note: firstLine(err?.stack ?? String(err)) };
  }
  results.push(result);
  process.stderr.write(`${result.status}${result.note ? `: ${result.note}` : ''} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}

const report = args.report ?? (args.subset || args.only ? undefined : path.join(repoRoot, 'CONFORMANCE.md'));
const table = formatReport(results);
if (report) {
  fs.writeFileSync(report, table);
  console.error(`conformance: wrote ${path.relative(process.cwd(), report) || report}`);
} else {
  process.stdout.write(table);
}
// Programs that need a service which is absent, or a public suite not fetched here, are skipped;
// a known limit (the entry's `limit`) does not fail the run; anything else does.
const failed = results.filter((r) => r.status !== 'pass' && r.status !== 'skipped' && !(r.program.limit && r.status !== 'error'));
process.exit(failed.length > 0 ? 1 : 0);

// ---------------------------------------------------------------------------------------------

async function runOne(program) {
  for (const service of program.services ?? []) {
    if (!(await reachable(SERVICES[service]))) return { program, status: 'skipped', note: `${service} is not reachable on 127.0.0.1:${SERVICES[service]}` };
  }
  const dir = await prepare(program);
  if (typeof dir !== 'string') return { program, ...dir };
  const env = {
    ...cleanEnv(),
    SUFFIX: crypto.randomBytes(4).toString('hex'),
    ...(program.env ?? {}),
  };
  const ctx = { dir, env, node, program };
  if (program.setup) await program.setup(ctx);

  // 1. plain
  const plain = await execute(program, ctx, [], 'plain');
  // 2. record
  fs.rmSync(path.join(dir, 'recording'), { recursive: true, force: true });
  const recorded = await execute(program, ctx, [node, cli, 'record', '--force', '--out', 'recording', '--'], 'record');
  if (program.teardown) await program.teardown(ctx);
  if (!fs.existsSync(path.join(dir, "recording"))) return { program, status: "fail", note: `nothing was recorded: ${firstLine(lastRetraceLine(recorded.stderr))}` };
  const processes = info(path.join(dir, "recording"));
  const base = {
    program,
    version: installedVersion(dir, program),
    processes: processes.length,
    events: processes.reduce((n, p) => n + p.events, 0),
    bytes: processes.reduce((n, p) => n + p.bytes, 0),
    recordMs: recorded.ms,
    plainMs: plain.ms,
  };
  const problems = processes.filter((p) => p.problem || p.end.startsWith('truncated'));
  if (problems.length > 0) return { ...base, status: 'fail', note: `record: process ${problems[0].process}: ${problems[0].problem ?? problems[0].end}` };
  if (program.kind !== 'server' && plain.status !== recorded.status) {
    return { ...base, status: 'fail', note: `record changed the exit status: ${plain.status} plain, ${recorded.status} recorded: ${firstLine(recorded.stderr)}` };
  }
  if (recorded.driverError) return { ...base, status: 'fail', note: `driver failed while recording: ${recorded.driverError}` };
  if (plain.driverError) return { ...base, status: 'fail', note: `driver failed on the plain run: ${plain.driverError}` };
  if (program.kind === 'server' && plain.transcript !== undefined && plain.transcript !== recorded.transcript) {
    return { ...base, status: 'fail', note: `record changed what the clients saw: ${firstDifference(plain.transcript, recorded.transcript)}` };
  }

  // 3. replay twice, offline
  const replays = [];
  for (let i = 0; i < 2; i++) {
    // The corpus made this recording itself: its code (node -e, --test, --import) is trusted.
    const argv = [node, cli, 'replay', 'recording', '--trust'];
    const r = await spawnRun(unshareWorks ? 'unshare' : argv[0], unshareWorks ? ['-n', ...argv] : argv.slice(1), { cwd: dir, env, timeout: program.timeout ?? 180_000 });
    replays.push(r);
    const fault = compare(recorded, r);
    if (fault) return { ...base, replayMs: r.ms, status: 'fail', note: `replay ${i + 1}: ${fault}` };
  }
  return { ...base, replayMs: Math.round((replays[0].ms + replays[1].ms) / 2), status: 'pass' };
}

/** Why a replay does not match its recording, or undefined when it does. */
function compare(recorded, replayed) {
  if (replayed.status === EXIT_DIVERGED || /retrace: (divergence|replay diverged|the program went idle|stall)/.test(replayed.stderr)) {
    return firstLine(replayed.stderr.split('\n').find((l) => l.startsWith('retrace:') && !/^retrace: (replaying|warning: recorded with)/.test(l)) ?? replayed.stderr) || `exit ${replayed.status}`;
  }
  if (replayed.timedOut) return `replay did not end within ${replayed.timeout / 1000} s`;
  if (replayed.status !== recorded.status) return `exit status ${replayed.status}, recorded ${recorded.status}: ${firstLine(lastRetraceLine(replayed.stderr))}`;
  if (replayed.stdout !== recorded.stdout) return `stdout differs: ${firstDifference(recorded.stdout, replayed.stdout)}`;
  return undefined;
}

/** Runs the program's command (prefixed by `retrace record` when recording), with its driver for servers. */
async function execute(program, ctx, prefix, phase) {
  writeProgramFiles(program, ctx.dir);
  const command = program.command.map((a) => (a === 'node' ? node : a));
  const env = { ...ctx.env };
  let port;
  if (program.kind === 'server') {
    port = await freePort();
    env.PORT = String(port);
  }
  const full = [...prefix, ...command];
  const run = spawnRun(full[0], full.slice(1), { cwd: ctx.dir, env, timeout: program.timeout ?? 180_000, input: program.stdin, keepOpen: program.kind === 'server' });
  if (program.kind !== 'server') return run;
  let transcript;
  let driverError;
  try {
    await waitForPort(port, run, program.startTimeout ?? 60_000);
    transcript = await program.driver({ ...ctx, env, port, phase, url: `http://127.0.0.1:${port}` });
  } catch (err) {
    driverError = firstLine(err?.stack ?? String(err));
  }
  // Ending a server: SIGTERM to the process we started (retrace record passes it on).
  await new Promise((r) => setTimeout(r, program.settleMs ?? 300));
  run.child.kill(program.stopSignal ?? 'SIGTERM');
  const done = await run.done;
  return { ...done, transcript: transcript === undefined ? undefined : String(transcript), driverError: driverError ?? (transcript === undefined && done.status !== null ? `server ended early (${firstLine(lastRetraceLine(done.stderr))})` : undefined) };
}

function spawnRun(command, argv, { cwd, env, timeout, input, keepOpen }) {
  const started = Date.now();
  const child = spawn(command, argv, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  if (input !== undefined) child.stdin.end(input);
  else if (!keepOpen) child.stdin.end();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeout);
  const done = new Promise((resolve) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: null, signal: null, stdout, stderr: stderr + String(err), ms: Date.now() - started, timedOut, timeout });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : null), signal, stdout, stderr, ms: Date.now() - started, timedOut, timeout });
    });
  });
  const result = { child, done };
  // A CLI's run resolves to its result directly.
  return keepOpen ? result : done;
}

/** Installs the program's packages into its own scratch folder (reused while the pins are the same). */
async function prepare(program) {
  if (program.publicSuite) {
    const found = program.publicSuite();
    if (!found) return { status: 'skipped', note: 'its public repository is not fetched here (local work only)' };
    return found;
  }
  const dir = path.join(workRoot, program.name);
  const manifest = {
    name: `conformance-${program.name}`,
    private: true,
    version: '0.0.0',
    ...(program.type ? { type: program.type } : {}),
    dependencies: program.packages ?? {},
    ...(program.scripts ? { scripts: program.scripts } : {}),
  };
  const stamp = crypto.createHash('sha256').update(JSON.stringify(manifest)).digest('hex').slice(0, 16);
  const stampFile = path.join(dir, '.installed');
  if (!fs.existsSync(stampFile) || fs.readFileSync(stampFile, 'utf8') !== stamp) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (Object.keys(manifest.dependencies).length > 0) {
      const npmArgs = ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', ...(program.installScripts ? [] : ['--ignore-scripts'])];
      const r = await spawnRun('npm', npmArgs, { cwd: dir, env: cleanEnv(), timeout: 600_000 });
      if (r.status !== 0) return { status: 'error', note: `npm install failed: ${firstLine(r.stderr)}` };
    }
    fs.writeFileSync(stampFile, stamp);
  }
  fs.rmSync(path.join(dir, 'recording'), { recursive: true, force: true });
  return dir;
}

/** The program's own files, written afresh before each run (a run may change them: json-server rewrites db.json). */
function writeProgramFiles(program, dir) {
  for (const r of program.clean ?? []) fs.rmSync(path.join(dir, r), { recursive: true, force: true });
  for (const [name, content] of Object.entries(program.files ?? {})) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

function installedVersion(dir, program) {
  const main = Object.keys(program.packages ?? {})[0];
  if (program.version) return program.version;
  if (!main) return `Node.js ${process.version}`;
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', main, 'package.json'), 'utf8')).version;
  } catch {
    return program.packages[main];
  }
}

async function loadPrograms() {
  const folder = path.join(here, 'programs');
  const out = [];
  for (const file of fs.readdirSync(folder).filter((f) => f.endsWith('.mjs')).sort()) {
    const mod = await import(pathToFileURL(path.join(folder, file)).href);
    const p = mod.default;
    p.name ??= path.basename(file, '.mjs');
    out.push(p);
  }
  return out;
}


function reachable(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.setTimeout(1000);
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
    s.on('timeout', () => (s.destroy(), resolve(false)));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForPort(port, run, timeout) {
  const deadline = Date.now() + timeout;
  let ended = false;
  run.done.then(() => (ended = true));
  while (Date.now() < deadline) {
    if (ended) throw new Error('the server ended before it listened');
    if (await reachable(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on port ${port} within ${timeout / 1000} s`);
}

function cleanEnv() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('RETRACE_') || key.startsWith('npm_')) delete env[key];
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  // `node` (and `#!/usr/bin/env node` scripts) are the Node.js running the corpus.
  env.PATH = `${path.dirname(node)}${path.delimiter}${env.PATH ?? ''}`;
  env.NO_COLOR = '1';
  env.FORCE_COLOR = '0';
  return env;
}

function firstLine(text) {
  return String(text ?? '').split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}

function lastRetraceLine(stderr) {
  const lines = String(stderr).split('\n').filter((l) => l.trim());
  return lines.filter((l) => l.startsWith('retrace:')).at(-1) ?? lines.at(-1) ?? '';
}

function firstDifference(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const line = a.slice(0, i).split('\n').length;
  const show = (s) => JSON.stringify(s.slice(Math.max(0, i - 20), i + 40));
  return `at byte ${i} (line ${line}): recorded ${show(a)}, got ${show(b)}`;
}

function formatReport(rows) {
  const cell = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const secs = (ms) => (ms === undefined ? '' : (ms / 1000).toFixed(1));
  const size = (b) => (b === undefined ? '' : b < 1 << 20 ? `${(b / 1024).toFixed(0)} KiB` : `${(b / (1 << 20)).toFixed(1)} MiB`);
  const passed = rows.filter((r) => r.status === 'pass').length;
  const limits = rows.filter((r) => r.status === 'fail' && r.program.limit).length;
  const skipped = rows.filter((r) => r.status === 'skipped').length;
  const lines = [
    '# Conformance',
    '',
    `Real programs, installed from npm at pinned versions, recorded and replayed twice offline with`,
    `\`retrace\` (\`npm run conformance\`; the programs are declared in \`conformance/programs/\`).`,
    `A program passes when both replays end with the recorded exit status, print the recorded`,
    `stdout byte for byte, and diverge nowhere. Servers are driven by an unrecorded client while`,
    `recording and ended with SIGTERM; their replays re-serve the recorded requests.`,
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with Node.js ${process.version} on ${os.platform()}-${os.arch()}: ${passed} of ${rows.length} pass, ${limits} meet a known limit (said in the row), ${skipped} skipped, ${rows.length - passed - limits - skipped} fail.`,
    '',
    '| Program | Version | Kind | What ran | Processes | Events | Record s | Replay s | Recording | Result | Why |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const p = r.program;
    const result = r.status === 'pass' ? 'pass' : p.limit && r.status === 'fail' ? 'limit' : r.status;
    const why = r.status === 'pass' ? '' : [p.limit ? `known limit: ${p.limit}` : '', r.note ?? ''].filter(Boolean).join('. ');
    lines.push(`| ${cell(p.name)} | ${cell(r.version ?? p.version ?? Object.values(p.packages ?? {})[0] ?? '')} | ${p.kind} | ${cell(p.what)} | ${r.processes ?? ''} | ${r.events ?? ''} | ${secs(r.recordMs)} | ${secs(r.replayMs)} | ${size(r.bytes)} | ${result} | ${cell(why)} |`);
  }
  return `${lines.join('\n')}\n`;
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--subset') out.subset = value();
    else if (a === '--only') out.only = value().split(',');
    else if (a === '--report') out.report = path.resolve(value());
    else if (a === '--work') out.work = value();
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run conformance -- [--subset ci|cli|server|db|broker|runner] [--only NAME,...] [--report FILE] [--work DIR]');
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  return out;
}

function fail(message) {
  console.error(`conformance: ${message}`);
  process.exit(2);
}
