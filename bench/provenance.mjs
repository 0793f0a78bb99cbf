#!/usr/bin/env node
// The provenance benchmark: how much slower `retrace why` is than a plain `retrace replay` of the
// same recording, and how much memory the replayed process takes while it builds the lineage.
//
//   npm run bench:provenance              full run; replaces the Provenance section of BENCHMARKS.md
//   node bench/provenance.mjs --smoke     small workloads, one round, a temporary file (CI runs it
//                                         through `npm run bench:smoke`; no timing is asserted)
//   --out FILE        the Markdown file to update (bench/run.mjs passes its own output)
//   --only shop,orders,http,loop
//
// Each workload is recorded once; then plain replays and `why` runs of that recording alternate
// (plain first in odd rounds, why first in even ones) and each figure is the median over the rounds,
// with the per-round ratios listed. The file is updated in place: the section between the
// provenance markers and the Targets table's `retrace why` rows are replaced, nothing else, so
// bench/run.mjs (which writes the whole file and then runs this script) and this script alone
// produce the same document.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fmt, median, met, root, runProcess } from './common.mjs';

const node = process.execPath;
const retrace = path.join(root, 'bin', 'retrace.js');
const here = (file) => path.join('bench', 'provenance', file);

// ---- options ----

const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const outArg = argv.indexOf('--out');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : null;
const config = smoke
  ? { rounds: 1, orders: 2_000, requests: 40, connections: 8, hit: 36, loops: [200_000], maxNodes: 50_000 }
  : { rounds: Number(process.env.BENCH_ROUNDS ?? 7), orders: 20_000, requests: 200, connections: 8, hit: 190, loops: [1_000_000, 5_000_000], maxNodes: null };
const outFile = outArg >= 0 ? path.resolve(argv[outArg + 1]) : smoke ? path.join(os.tmpdir(), `retrace-bench-provenance-smoke-${process.pid}.md`) : path.join(root, 'BENCHMARKS.md');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'retrace-bench-provenance-'));
/** How often the replayed processes' memory high-water marks are read. */
const POLL_MS = 10;
/** The memory target: 1 GB. */
const MEMORY_LIMIT = 1e9;
/** The loop's peak may grow this much when it runs several times as long, and still count as bounded. */
const LOOP_GROWTH_LIMIT = 1.2;
const SPEED_LIMIT = 20;

if (!fs.existsSync(path.join(root, 'dist', 'src', 'cli', 'why.js'))) {
  console.error('retrace: the provenance bench needs the build: run `npm run build` first');
  process.exit(2);
}

const log = (msg) => process.stderr.write(`bench provenance: ${msg}\n`);

// ---- memory of the replayed process ----

/**
 * The processes a process started. /proc/PID/task/PID/children lists those its main thread forked
 * (where libuv spawns); kernels built without it get a scan of every process's parent.
 */
const childrenFile = (pid) => `/proc/${pid}/task/${pid}/children`;
const haveChildrenFile = fs.existsSync(childrenFile(process.pid));
const haveProc = fs.existsSync(`/proc/${process.pid}/status`);
function childrenOf(pid) {
  try {
    if (haveChildrenFile) return fs.readFileSync(childrenFile(pid), 'utf8').split(' ').filter(Boolean).map(Number);
    const found = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, the last ")" ends it.
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
      } catch {}
    }
    return found;
  } catch {
    return [];
  }
}

/** The kernel's high-water mark of a process's resident set (VmHWM), in KiB; null once it is gone. */
function highWaterKiB(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * GNU time, when there is one, as a check of the polling: its %M is wait4's maximum resident set
 * over the command and every descendant it waited for, which must match the largest polled figure.
 */
const timeCheck = await new Promise((resolve) => {
  const probe = spawn('/usr/bin/time', ['-f', 'BENCH_TIME_MAXRSS %M', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  probe.stderr.on('data', (d) => (err += d));
  probe.on('error', () => resolve(false));
  probe.on('exit', (code) => resolve(code === 0 && /^BENCH_TIME_MAXRSS \d+$/m.test(err)));
});

/**
 * Runs `retrace ARGS` from the project folder to completion. Resolves with its output, its wall
 * time, and the peak resident set of the processes it started (the replayed program: `why` may run
 * it more than once, the largest counts) and of the retrace command itself.
 */
function runRetrace(args, env = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const [command, commandArgs] = timeCheck ? ['/usr/bin/time', ['-f', 'BENCH_TIME_MAXRSS %M', node, retrace, ...args]] : [node, [retrace, ...args]];
    const child = spawn(command, commandArgs, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout = [];
    let stderr = '';
    child.stdout.on('data', (d) => stdout.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    const replayed = new Map();
    let cli = null;
    let cliPid = timeCheck ? null : child.pid;
    const poll = () => {
      if (!haveProc) return;
      if (cliPid === null) cliPid = childrenOf(child.pid)[0] ?? null;
      if (cliPid === null) return;
      const own = highWaterKiB(cliPid);
      if (own !== null) cli = Math.max(cli ?? 0, own);
      for (const pid of childrenOf(cliPid)) {
        const kib = highWaterKiB(pid);
        if (kib !== null) replayed.set(pid, Math.max(replayed.get(pid) ?? 0, kib));
      }
    };
    const timer = setInterval(poll, POLL_MS);
    poll();
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      clearInterval(timer);
      const peaks = [...replayed.values()];
      const timed = /^BENCH_TIME_MAXRSS (\d+)$/m.exec(stderr);
      // GNU time's own lines are not retrace's.
      if (timed) stderr = stderr.replace(timed[0], '').replace(/^Command (exited with non-zero status|terminated by signal) .*$/m, '');
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr,
        ms,
        replayedKiB: peaks.length ? Math.max(...peaks) : null,
        replayedProcesses: peaks.length,
        cliKiB: cli,
        treeKiB: timed ? Number(timed[1]) : null,
      });
    });
  });
}

const tail = (text, lines = 4) => text.trim().split('\n').slice(-lines).join(' / ');

/** The line of a workload program that holds `marker` (so that edits to a program do not break the bench). */
function lineOf(file, marker) {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`${file} has no line with ${marker}`);
  return i + 1;
}

// ---- recording the workloads ----

/** Workload 1: the shop demo records itself (database, customers and all) into DIR. */
async function recordShop(dir) {
  const r = await runProcess(node, [path.join(root, 'examples/shop/scripts/demo.mjs'), '--out', dir]);
  if (r.code !== 0) throw new Error(`the shop demo failed (${r.code ?? r.signal}): ${tail(r.stdout + r.stderr)}`);
  // The demo prints the server's lines twice (recorded, then replayed): count the orders once.
  return { note: `${new Set(r.stdout.match(/^order \d+:/gm) ?? []).size} orders priced by the recorded server` };
}

/** Orders as JSON text: made from their index alone, so every run of the bench reads the same file. */
function writeOrders(file, count) {
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const orders = [];
  for (let n = 0; n < count; n++) {
    const items = [];
    const k = 1 + Math.floor(next() * 5);
    for (let i = 0; i < k; i++) items.push({ sku: `S${Math.floor(next() * 500)}`, qty: 1 + Math.floor(next() * 4), price: Math.round(100 + next() * 9900) / 100 });
    const coupon = next() < 0.2 ? [5, 10, 25][Math.floor(next() * 3)] : null;
    orders.push({ id: n + 1, customer: `c${Math.floor(next() * 500)}`, coupon, items });
  }
  fs.writeFileSync(file, JSON.stringify(orders));
  return fs.statSync(file).size;
}

async function recordOrders(dir) {
  const file = path.join(work, 'orders.json');
  const bytes = writeOrders(file, config.orders);
  const r = await runProcess(node, [retrace, 'record', '--force', '--out', dir, '--', node, here('orders.mjs'), file]);
  if (r.code !== 0) throw new Error(`recording orders.mjs failed (${r.code ?? r.signal}): ${tail(r.stderr)}`);
  return { note: `${config.orders.toLocaleString('en')} orders, ${(bytes / 2 ** 20).toFixed(1)} MiB of JSON; ${r.stdout.trim()}` };
}

/** Workload 3: the server recorded while the unrecorded client sends its requests, then POST /stop. */
async function recordHttp(dir) {
  const server = spawn(node, [retrace, 'record', '--force', '--out', dir, '--', node, here('http-server.mjs')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  server.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`http-server.mjs did not start in 30 s: ${tail(err)}`)), 30_000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /^READY (\d+) /m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code, signal }) => reject(new Error(`http-server.mjs exited (${code ?? signal}) before it was ready: ${tail(err)}`)));
  });
  const client = await runProcess(node, [here('http-client.mjs'), `http://127.0.0.1:${port}`], { env: { REQUESTS: String(config.requests), CONNECTIONS: String(config.connections) } });
  const done = /^DONE (\d+) (\d+)$/m.exec(client.stdout);
  if (client.code !== 0 || !done || done[2] !== '0') {
    server.kill('SIGKILL');
    throw new Error(`the HTTP client failed (${client.code ?? client.signal}): ${tail(client.stdout + client.stderr)}`);
  }
  const timer = setTimeout(() => server.kill('SIGKILL'), 30_000);
  const status = await exited;
  clearTimeout(timer);
  if (status.code !== 0) throw new Error(`the recorded HTTP server exited with ${status.code ?? status.signal}: ${tail(err)}`);
  return { note: out.match(/^served .*$/m)?.[0] ?? 'served ?' };
}

async function recordLoop(dir, iterations) {
  const r = await runProcess(node, [retrace, 'record', '--force', '--out', dir, '--', node, here('loop.mjs')], { env: { ITERATIONS: String(iterations) } });
  if (r.code !== 0) throw new Error(`recording loop.mjs failed (${r.code ?? r.signal}): ${tail(r.stderr)}`);
  return { note: r.stdout.trim() };
}

// ---- the workloads ----

const capArgs = config.maxNodes ? ['--max-nodes', String(config.maxNodes)] : [];

const workloads = [
  {
    key: 'shop',
    title: 'shop demo: the failing request (Express 5 + `pg`, TypeScript through source maps)',
    record: recordShop,
    at: () => 'examples/shop/src/pricing.ts:53',
    expr: 'discountCents',
    hit: '3',
    speed: true,
  },
  {
    key: 'orders',
    title: `CPU-heavy: ${config.orders.toLocaleString('en')} JSON orders through map/reduce/Map/sort`,
    record: recordOrders,
    at: () => `${here('orders.mjs')}:${lineOf(here('orders.mjs'), 'console.log(')}`,
    expr: 'top.total',
    hit: 'last',
    speed: true,
  },
  {
    key: 'http',
    title: `node:http server, ${config.requests} JSON requests over ${config.connections} keep-alive connections`,
    record: recordHttp,
    at: () => `${here('http-server.mjs')}:${lineOf(here('http-server.mjs'), 'const total =')}`,
    expr: 'total',
    hit: String(config.hit),
    speed: true,
    // Scoping: the default traces only the request (or connection) that holds the hit; --scope all
    // traces every request, as `why` did before scoping.
    variants: [{ key: 'scope-all', args: ['--scope', 'all'], label: '`--scope all`' }],
  },
  ...config.loops.map((n, i) => ({
    key: `loop-${n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`}`,
    title: `a loop of ${n.toLocaleString('en')} iterations${config.maxNodes ? ` (--max-nodes ${config.maxNodes.toLocaleString('en')})` : ' (node cap 1,000,000)'}`,
    record: (dir) => recordLoop(dir, n),
    at: () => `${here('loop.mjs')}:${lineOf(here('loop.mjs'), 'console.log(')}`,
    expr: 'acc',
    hit: 'last',
    iterations: n,
    loop: true,
  })),
];

/** The answer's `scope` in words: what was traced, and why or where (its fields, whatever they are). */
function describeScope(scope) {
  const words = (v) => (v && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k} ${words(x)}`).join(', ') : String(v));
  const rest = Object.entries(scope).filter(([k]) => k !== 'traced');
  return `${scope.traced}${rest.length ? ` (${rest.map(([k, v]) => (k === 'reason' ? words(v) : `${k}: ${words(v)}`)).join('; ')})` : ''}`;
}

/** What a `why` answer says, in brief: its stats, whether it is complete, the origins it shows. */
function summarizeAnswer(answer) {
  const origins = [];
  const walk = (n) => {
    if (n.origin) origins.push(n.origin.kind);
    for (const c of n.inputs ?? []) walk(c);
  };
  if (answer.lineage) walk(answer.lineage);
  const inputs = origins.filter((k) => k !== 'literal');
  return {
    value: answer.value,
    hit: answer.hit,
    hits: answer.hits,
    complete: answer.complete,
    scope: answer.scope ? describeScope(answer.scope) : null,
    nodes: answer.stats?.nodes ?? null,
    arenaBytes: answer.stats?.arenaBytes ?? null,
    heapBytes: answer.stats?.heapBytes ?? null,
    passes: answer.stats?.passes ?? null,
    inputOrigins: inputs.length,
    inputKinds: [...new Set(inputs)].join(', '),
  };
}

async function benchWorkload(w) {
  const dir = path.join(work, w.key);
  const recorded = await w.record(dir);
  log(`${w.key}: recorded (${recorded.note})`);
  const whyArgs = ['why', dir, '--at', w.at(), '--expr', w.expr, '--hit', w.hit, '--json', ...(w.loop ? capArgs : [])];
  const kinds = [{ key: 'plain', args: ['replay', dir] }, { key: 'why', args: whyArgs }, ...(w.variants ?? []).map((v) => ({ ...v, args: [...whyArgs, ...v.args] }))];
  const runs = Object.fromEntries(kinds.map((k) => [k.key, []]));
  const unsupported = {};
  // A run that fails is listed and leaves a hole in its round (its pair gives no ratio) instead of
  // ending the workload: one diverged replay should not hide the figures of the other rounds.
  const failures = [];
  for (let round = 0; round < config.rounds; round++) {
    const order = round % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      if (unsupported[kind.key]) continue;
      const r = await runRetrace(kind.args);
      if (r.code !== 0) {
        const option = /unknown option for why: (\S+)/.exec(r.stderr);
        if (kind.key !== 'why' && kind.key !== 'plain' && option) {
          unsupported[kind.key] = `this build of retrace has no ${option[1]} option`;
          log(`${w.key} ${kind.key}: ${unsupported[kind.key]}; measuring the default only`);
          continue;
        }
        const error = `${kind.key === 'plain' ? 'retrace replay' : 'retrace why'} exited ${r.code ?? r.signal}: ${tail(r.stderr)}`;
        failures.push({ round, kind: kind.key, error });
        runs[kind.key][round] = null;
        log(`${w.key} round ${round + 1}/${config.rounds} ${kind.key} failed: ${error}`);
        continue;
      }
      const answer = kind.key === 'plain' ? null : summarizeAnswer(JSON.parse(r.stdout));
      runs[kind.key][round] = { ms: r.ms, replayedKiB: r.replayedKiB, replayedProcesses: r.replayedProcesses, cliKiB: r.cliKiB, treeKiB: r.treeKiB, answer };
      log(
        `${w.key} round ${round + 1}/${config.rounds} ${kind.key}: ${Math.round(r.ms)} ms, replayed process peak RSS ${r.replayedKiB === null ? 'n/a' : `${Math.round(r.replayedKiB / 1024)} MiB`}` +
          (answer ? `, ${answer.nodes} nodes, value ${answer.value}${answer.complete ? '' : ' (incomplete)'}${answer.scope ? `, traced ${answer.scope}` : ''}` : ''),
      );
    }
  }
  for (const key of ['plain', 'why']) {
    if (!runs[key].some(Boolean)) throw new Error(failures.find((f) => f.kind === key).error);
  }
  return { workload: w, recorded, runs, failures, unsupported, kinds: kinds.filter((k) => !unsupported[k.key]) };
}

// ---- the report ----

const mib = (kib) => (kib === null || kib === undefined ? 'n/a' : (kib / 1024).toFixed(0));

/** Figures of one kind of run (`why`, `why --scope all`) against the plain replays of the same rounds. */
function versus(result, key) {
  const plain = result.runs.plain;
  const all = result.runs[key] ?? [];
  // Round i of one kind is paired with round i of the other (one ran right after the other).
  const ratios = all.map((r, i) => (r && plain[i] ? r.ms / plain[i].ms : null)).filter((x) => x !== null);
  const runs = all.filter(Boolean);
  if (!runs.length) return null;
  const last = runs.at(-1).answer;
  return {
    ms: median(runs.map((r) => r.ms)),
    ratio: median(ratios),
    ratios,
    replayedKiB: median(runs.map((r) => r.replayedKiB)),
    maxReplayedKiB: Math.max(...runs.map((r) => r.replayedKiB ?? 0)) || null,
    replayedProcesses: median(runs.map((r) => r.replayedProcesses)),
    cliKiB: median(runs.map((r) => r.cliKiB)),
    nodes: median(runs.map((r) => r.answer.nodes)),
    arenaBytes: median(runs.map((r) => r.answer.arenaBytes)),
    heapBytes: median(runs.map((r) => r.answer.heapBytes)),
    // Median time of each replay pass `why` reported (by its mode: locate, trace, trace narrowed...).
    passes: last.passes ? last.passes.map((p, i) => ({ mode: p.mode, ms: median(runs.map((r) => r.answer.passes?.[i]?.mode === p.mode ? r.answer.passes[i].ms : null)) })) : null,
    answer: last,
  };
}

function summarize(result) {
  if (result.error) return null;
  const plain = result.runs.plain.filter(Boolean);
  return {
    plainMs: median(plain.map((r) => r.ms)),
    plainKiB: median(plain.map((r) => r.replayedKiB)),
    plainCliKiB: median(plain.map((r) => r.cliKiB)),
    kinds: result.kinds.filter((k) => k.key !== 'plain' && versus(result, k.key)).map((k) => ({ key: k.key, label: k.label ?? '', ...versus(result, k.key) })),
  };
}

function commitOf() {
  try {
    const head = fs.readFileSync(path.join(root, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 7);
    const ref = head.slice(5);
    const loose = path.join(root, '.git', ref);
    if (fs.existsSync(loose)) return fs.readFileSync(loose, 'utf8').trim().slice(0, 7);
    const packed = fs.readFileSync(path.join(root, '.git', 'packed-refs'), 'utf8').split('\n').find((l) => l.endsWith(` ${ref}`));
    return packed ? packed.slice(0, 7) : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Whether the build measured may hold more than the commit: src/ files changed and not committed. */
function uncommittedSources() {
  const r = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) return '';
  const files = r.stdout.split('\n').filter(Boolean).length;
  return files ? ` (with ${files} uncommitted change${files === 1 ? '' : 's'} under src/ when it ran: dist/ may have been built from them)` : '';
}

const TARGET_PREFIX = '| `retrace why`';

function targetRows(results) {
  const sums = results.map((r) => ({ r, s: summarize(r) }));
  const speed = sums.filter(({ r }) => r.workload.speed);
  const speedParts = [];
  let speedOk = speed.length ? true : null;
  for (const { r, s } of speed) {
    if (!s) {
      speedParts.push(`${r.workload.key} failed`);
      speedOk = false;
      continue;
    }
    for (const k of s.kinds) {
      speedParts.push(`${r.workload.key}${k.key === 'why' ? '' : ` ${k.label}`} ${fmt(k.ratio, 1)}×`);
      if (!(k.ratio < SPEED_LIMIT)) speedOk = false;
    }
  }
  const failedRuns = speed.reduce((n, { r }) => n + (r.failures?.length ?? 0), 0);
  const speedStatus = speedOk && failedRuns ? `**met** by the runs that succeeded; ${failedRuns} run${failedRuns === 1 ? '' : 's'} failed (see Speed)` : met(speedOk);
  const peaks = [];
  let memoryOk = sums.length ? true : null;
  for (const { r, s } of sums) {
    if (!s) {
      memoryOk = false;
      continue;
    }
    for (const k of s.kinds) {
      if (k.maxReplayedKiB === null) memoryOk = null;
      else {
        peaks.push({ key: `${r.workload.key}${k.key === 'why' ? '' : ` ${k.label}`}`, kib: k.maxReplayedKiB });
        if (k.maxReplayedKiB * 1024 >= MEMORY_LIMIT) memoryOk = false;
      }
    }
  }
  const loops = sums.filter(({ r, s }) => r.workload.loop && s);
  let growth = null;
  if (loops.length >= 2) {
    const [a, b] = [loops[0], loops.at(-1)];
    const ka = a.s.kinds[0].replayedKiB;
    const kb = b.s.kinds[0].replayedKiB;
    growth = { from: a.r.workload.iterations, to: b.r.workload.iterations, ka, kb, ratio: ka && kb ? kb / ka : null };
    if (growth.ratio === null) memoryOk = null;
    else if (memoryOk !== null && growth.ratio > LOOP_GROWTH_LIMIT) memoryOk = false;
  }
  const largest = peaks.sort((x, y) => y.kib - x.kib)[0];
  const memoryText = [
    largest ? `largest ${mib(largest.kib)} MiB (${largest.key})` : 'n/a',
    growth ? `loop ${growth.from.toLocaleString('en')} → ${growth.to.toLocaleString('en')} iterations: ${mib(growth.ka)} → ${mib(growth.kb)} MiB (×${fmt(growth.ratio, 2)})` : null,
  ].filter(Boolean).join('; ');
  return [
    `${TARGET_PREFIX} / plain \`retrace replay\` wall time < ${SPEED_LIMIT}× (shop request, CPU-heavy orders, HTTP server; medians) | ${speedParts.join(', ') || 'not run'} | ${speedStatus} |`,
    `${TARGET_PREFIX}: peak RSS of the replayed process bounded, under 1 GB in every workload${loops.length >= 2 ? `, and the capped loop's peak within ×${LOOP_GROWTH_LIMIT} when it runs ${loops.at(-1).r.workload.iterations / loops[0].r.workload.iterations}× as long` : ''} | ${memoryText} | ${met(memoryOk)} |`,
  ];
}

/** How the polled peaks compare with GNU time's %M (wait4's maximum over the command and its children) in the same runs. */
function pollingCheck(results) {
  if (!haveProc) return 'There is no /proc here, so no memory was measured.';
  if (!timeCheck) return 'There is no GNU time here to check the polling against.';
  const gaps = [];
  for (const r of results) {
    for (const runs of Object.values(r.runs ?? {})) {
      for (const run of runs.filter(Boolean)) {
        const polled = Math.max(run.cliKiB ?? 0, run.replayedKiB ?? 0);
        if (run.treeKiB && polled) gaps.push((run.treeKiB - polled) / run.treeKiB);
      }
    }
  }
  if (!gaps.length) return '';
  const worst = gaps.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a));
  return (
    `Check: every retrace command ran under \`/usr/bin/time -f %M\`, and the largest polled peak of its processes was within ${fmt(Math.abs(worst) * 100, 2)}% of that figure in all ${gaps.length} runs ` +
    `(the polled one ${worst > 0 ? 'lower' : 'higher or equal'} at worst).`
  );
}

function section(results, started) {
  const L = [];
  const sums = results.map((r) => ({ r, s: summarize(r) }));
  L.push('<!-- provenance:begin (bench/provenance.mjs replaces everything up to provenance:end) -->', '');
  L.push('## Provenance (`retrace why`)', '');
  L.push(
    `Generated by \`npm run bench:provenance${smoke ? ' -- --smoke' : ''}\` (bench/provenance.mjs) on ${started.toISOString()} at commit ${commitOf()}${uncommittedSources()}, Node.js ${process.version}, ` +
      `load average ${results.loadAtStart} at the start and ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end (${os.cpus().length} cores); do not edit by hand.` +
      (smoke ? ' **Smoke run: small workloads and one round, the figures mean nothing.**' : ''),
    '',
  );
  L.push('### Method', '');
  L.push(
    `- Each workload is recorded once (\`retrace record\`), then ${config.rounds} round${config.rounds === 1 ? '' : 's'} of a plain \`retrace replay\` and \`retrace why --json\` of that recording, ` +
      'alternating (plain first in odd rounds, why first in even ones; the HTTP workload adds `why --scope all` to each round). Wall time is from spawning the retrace command to its exit, ' +
      'as a user waits for it: start-up, the replay, and for `why` the locating and tracing passes and the decoding of the origins. The ratio is why / plain of the same round; ' +
      'the figure is the median of those ratios, and the per-round ratios are listed.',
    '- `why` stops the replay at the hit it asks for (then exits); a plain replay runs the recording to its end. The shop question is about the third order priced, so `why` replays only the first ' +
      'part of that recording; the other questions are at or near the end (the HTTP one is the ' + config.hit + 'th of ' + config.requests + ' requests to reach the line).',
    `- **Peak RSS of the replayed process**: retrace runs the program in a child process. While the retrace command runs, the bench reads the children it started from ` +
      `\`/proc/PID/task/PID/children\` and, every ${POLL_MS} ms, each child's \`VmHWM\` from \`/proc/CHILD/status\`: the kernel's high-water mark of that process's resident set. ` +
      'A high-water mark only grows, so sampling misses no earlier peak; it can only miss growth in the last interval before the process exits. The figure is the largest child ' +
      '(`why` may replay more than once: a pass that locates the hit, then the traced pass). Not used: `process.resourceUsage()` inside the child would need code in the measured ' +
      'process, and `why` ends it with `reallyExit` at the hit, past exit handlers; `/usr/bin/time -f %M` alone reports the largest process of the whole tree (the retrace command ' +
      'included) and is not installed everywhere. The retrace command\'s own peak is listed separately. ' + pollingCheck(results),
    '- Lineage nodes, arena and heap bytes are `why`\'s own `stats`; "input origins shown" counts the recorded-input leaves in the printed answer (the tree is cut at 600 nodes), a check ' +
      'that the answer does reach the inputs.',
    `- Workloads: (1) \`npm run demo:shop\`'s recording (examples/shop: Express 5, \`pg\` to an embedded PostgreSQL, TypeScript run from tsc's output), the question from its README; ` +
      `(2) bench/provenance/orders.mjs: ${config.orders.toLocaleString('en')} orders read as one JSON file, priced with map/reduce, summed per customer in a Map, ranked with sort; ` +
      `(3) bench/provenance/http-server.mjs: a node:http server that took ${config.requests} JSON orders over ${config.connections} keep-alive connections from an unrecorded client ` +
      '(bench/provenance/http-client.mjs) and priced each (map, sort, a Map, a checksum loop), asked once with the default options (where the build scopes tracing, only what ' +
      'holds the hit is traced: the "traced" column says what was) and once with `--scope all` (every request traced); (4) bench/provenance/loop.mjs: a loop whose variable depends on every earlier iteration, ' +
      `${config.loops.map((n) => n.toLocaleString('en')).join(' and ')} iterations, which fills the lineage node cap (${config.maxNodes ? `${config.maxNodes.toLocaleString('en')}, smaller in the smoke run` : 'the default 1,000,000'}) and is summarized after it.`,
    '- The speed target is judged on workloads 1–3. The loop is there for memory: a tight arithmetic loop is the worst case for speed (each operation becomes a call to the ' +
      'provenance runtime, where the plain replay runs it JIT-compiled), so its ratio is listed but not judged.',
    '',
  );
  L.push('### Speed', '');
  L.push('| workload | question | plain replay (ms) | `retrace why` (ms) | why / plain | per-round ratios | failed runs |', '|---|---|---|---|---|---|---|');
  for (const { r, s } of sums) {
    const w = r.workload;
    const q = `\`--at ${w.at()} --expr ${w.expr} --hit ${w.hit}\``;
    if (!s) {
      L.push(`| ${w.title} | ${q} | failed: ${r.error} | | | | |`);
      continue;
    }
    for (const k of s.kinds) {
      L.push(`| ${w.title}${k.key === 'why' ? '' : `, ${k.label}`} | ${k.key === 'why' ? q : `the same with ${k.label}`} | ${fmt(s.plainMs)} | ${fmt(k.ms)} | ${fmt(k.ratio, 2)} | ${k.ratios.map((x) => fmt(x, 2)).join(', ')} | ${r.failures.filter((f) => f.kind === k.key || f.kind === 'plain').length} |`);
    }
    for (const [key, why] of Object.entries(r.unsupported ?? {})) L.push(`| ${w.title}, ${w.variants.find((v) => v.key === key).label} | not measured: ${why} | | | | | |`);
  }
  L.push('');
  const failed = sums.flatMap(({ r }) => (r.failures ?? []).map((f) => `${r.workload.key} round ${f.round + 1}, ${f.kind === 'plain' ? 'plain replay' : f.kind}: ${f.error.replace(/\|/g, '\\|')}`));
  if (failed.length) L.push('Failed runs (their rounds give no ratio):', '', ...failed.map((f) => `- ${f}`), '');
  L.push('### Memory and lineage', '');
  L.push(
    '| workload | replayed process peak RSS, plain / why (MiB) | why / plain | retrace command peak, plain / why (MiB) | lineage nodes | arena (MiB) | heap used at the answer (MiB) | complete | traced | input origins shown |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const { r, s } of sums) {
    if (!s) continue;
    for (const k of s.kinds) {
      const a = k.answer;
      L.push(
        `| ${r.workload.key}${k.key === 'why' ? '' : ` ${k.label}`} | ${mib(s.plainKiB)} / ${mib(k.replayedKiB)} | ${fmt(k.replayedKiB && s.plainKiB ? k.replayedKiB / s.plainKiB : null, 2)} | ${mib(s.plainCliKiB)} / ${mib(k.cliKiB)} | ` +
          `${fmt(k.nodes)} | ${fmt(k.arenaBytes / 2 ** 20, 1)} | ${fmt(k.heapBytes / 2 ** 20, 0)} | ${a.complete ? 'yes' : 'no'} | ${a.scope ?? 'n/a'} | ${a.inputOrigins}${a.inputKinds ? ` (${a.inputKinds})` : ''} |`,
      );
    }
  }
  L.push('');
  L.push('### The recorded runs', '');
  for (const { r } of sums) L.push(`- ${r.workload.key}: ${r.error ? `failed: ${r.error}` : r.recorded.note}`);
  const passes = sums.flatMap(({ r, s }) => (s ? s.kinds.filter((k) => k.passes).map((k) => `${r.workload.key}${k.key === 'why' ? '' : ` ${k.label}`}: ${k.passes.map((p) => `${p.mode} ${fmt(p.ms)} ms`).join(', ')}`) : []));
  if (passes.length) L.push('', `The replay passes of \`why\` (its \`stats.passes\`, median ms): ${passes.join('; ')}.`);
  const http = sums.find(({ r, s }) => r.workload.key === 'http' && s);
  const scoped = http?.s.kinds.find((k) => k.key === 'why');
  const all = http?.s.kinds.find((k) => k.key === 'scope-all');
  if (scoped && all) {
    const traced = (k) => k.passes?.filter((p) => p.mode.startsWith('trace')).reduce((n, p) => n + p.ms, 0) ?? null;
    L.push(
      '',
      `Narrowing to the hit's request on the HTTP workload: the default made ${fmt(scoped.nodes)} lineage nodes against ${fmt(all.nodes)} with \`--scope all\` ` +
        `(replayed process ${mib(scoped.replayedKiB)} against ${mib(all.replayedKiB)} MiB); its traced pass took ${fmt(traced(scoped))} ms against ${fmt(traced(all))} ms, ` +
        `and the whole command ${fmt(scoped.ms)} against ${fmt(all.ms)} ms (${fmt(scoped.ratio, 2)}× and ${fmt(all.ratio, 2)}× the plain replay).`,
    );
  }
  L.push('', '<!-- provenance:end -->');
  return L.join('\n') + '\n';
}

/**
 * Puts the section and the target rows into the document: the old section (between the markers)
 * and old `retrace why` target rows go, the rows join the end of the Targets table, the section
 * goes where the old one was (else at the end). A document without a Targets table gets one in
 * the section.
 */
function update(doc, results, started) {
  const rows = targetRows(results);
  let text = section(results, started);
  const begin = doc.indexOf('<!-- provenance:begin');
  const endMarker = '<!-- provenance:end -->';
  const end = doc.indexOf(endMarker);
  let before = doc;
  let after = '';
  if (begin >= 0 && end > begin) {
    before = doc.slice(0, begin);
    after = doc.slice(end + endMarker.length).replace(/^\n+/, '');
  }
  const lines = before.split('\n').filter((l) => !l.startsWith(TARGET_PREFIX));
  const targets = lines.findIndex((l) => l === '## Targets');
  let inserted = false;
  if (targets >= 0) {
    let i = targets + 1;
    while (i < lines.length && !lines[i].startsWith('|')) i++;
    if (i < lines.length) {
      while (i < lines.length && lines[i].startsWith('|')) i++;
      lines.splice(i, 0, ...rows);
      inserted = true;
    }
  }
  if (!inserted) text = text.replace('### Method', ['### Targets', '', '| target | measured | status |', '|---|---|---|', ...rows, '', '### Method'].join('\n'));
  before = lines.join('\n');
  if (before.length && !before.endsWith('\n\n')) before = before.replace(/\n*$/, '\n\n');
  return before + text + (after ? `\n${after}` : '');
}

// ---- main ----

const started = new Date();
log(`${smoke ? 'smoke' : 'full'} run: ${config.rounds} round(s); updating ${path.relative(process.cwd(), outFile) || outFile}`);
const results = [];
results.loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
try {
  for (const w of workloads) {
    if (only && !only.includes(w.key.replace(/-.*$/, ''))) continue;
    try {
      results.push(await benchWorkload(w));
    } catch (err) {
      log(`${w.key} failed: ${err.message}`);
      results.push({ workload: w, error: err.message.replace(/\|/g, '\\|').replace(/\n/g, ' ') });
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
const doc = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
fs.writeFileSync(outFile, update(doc, results, started));
log(`wrote ${outFile}`);
if (results.some((r) => r.error || r.failures?.length)) process.exitCode = 1;
