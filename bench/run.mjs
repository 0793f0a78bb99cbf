#!/usr/bin/env node
// The recording-overhead benchmark: `npm run bench` (full, writes BENCHMARKS.md) or
// `npm run bench:smoke` (tiny durations, writes to a temporary file; CI runs it so the bench keeps
// working, and asserts no timing). Both then run bench/provenance.mjs (`retrace why` against plain
// replay) in the same mode, which adds its section to the same file.
//
// Every figure is a ratio or a difference against the same program run unrecorded, on the same
// machine, in the same run: plain and recorded rounds alternate (plain first in odd rounds,
// recorded first in even ones) and each figure is the median over the rounds. Servers, the upstream
// service and the load generator (autocannon) are separate processes.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fmt, median, met, root, runProcess } from './common.mjs';

const require = createRequire(import.meta.url);
const node = process.execPath;
const retrace = path.join(root, 'bin', 'retrace.js');
const autocannon = path.join(path.dirname(require.resolve('autocannon/package.json')), 'autocannon.js');

// ---- options ----

const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const outArg = argv.indexOf('--out');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : null;
const config = smoke
  ? { rounds: 1, warmup: 0.5, duration: 1, connections: 10, microRounds: 1, microScale: 0.05, microBatches: 2 }
  : { rounds: Number(process.env.BENCH_ROUNDS ?? 7), warmup: 2, duration: Number(process.env.BENCH_DURATION ?? 5), connections: 32, microRounds: 5, microScale: 1, microBatches: 7 };
const outFile = outArg >= 0 ? path.resolve(argv[outArg + 1]) : smoke ? path.join(os.tmpdir(), `retrace-bench-smoke-${process.pid}.md`) : path.join(root, 'BENCHMARKS.md');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'retrace-bench-'));

if (!fs.existsSync(path.join(root, 'dist', 'src', 'core', 'trace', 'reader.js'))) {
  console.error('retrace: bench needs the build: run `npm run build` first');
  process.exit(2);
}
const { TraceFile } = await import(path.join(root, 'dist', 'src', 'core', 'trace', 'reader.js'));

const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

// ---- processes ----

/** Starts a process and resolves once it printed "READY <port> <pid>". */
function startServer(command, args, env = {}) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let buffered = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(args.at(-1))} did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout.on('data', (d) => {
      buffered += d;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        const m = /^READY (\d+) (\d+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve({ port: Number(m[1]), pid: Number(m[2]) });
        }
      }
    });
    exited.then(({ code, signal }) => reject(new Error(`${path.basename(args.at(-1))} exited (${code ?? signal}) before it was ready: ${stderr.trim()}`)));
  });
  return { child, ready, exited, lines, stderr: () => stderr };
}

async function load(url, seconds) {
  const r = await runProcess(node, [autocannon, '--json', '-c', String(config.connections), '-d', String(seconds), url]);
  if (r.code !== 0) throw new Error(`autocannon failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  return {
    requests: j.requests.total,
    rps: j.requests.total / j.duration,
    p50: j.latency.p50,
    p99: j.latency.p99,
    errors: j.errors + j.timeouts + j.non2xx,
  };
}

/** User + system CPU time of a process, all its threads, in ms, from /proc (Linux); null elsewhere. */
function processCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100;

// ---- traces ----

/** Sums of a trace file's chunk lengths, by reading the chunk headers (docs/trace-format.md). */
function chunkSizes(file) {
  const buf = fs.readFileSync(file);
  let at = 10;
  const sizes = { file: buf.length, eventsRaw: 0, eventsStored: 0, chunks: 0 };
  while (at + 14 <= buf.length) {
    const type = buf[at];
    const rawLength = buf.readUInt32LE(at + 2);
    const storedLength = buf.readUInt32LE(at + 6);
    if (type === 2) {
      sizes.eventsRaw += rawLength;
      sizes.eventsStored += storedLength;
      sizes.chunks++;
    }
    at += 14 + storedLength;
  }
  return sizes;
}

/** Bytes of data in a value: Buffers and typed arrays by length, strings by UTF-8 length. */
function dataBytes(v, depth = 0) {
  if (v == null || depth > 64) return 0;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (typeof v !== 'object') return 0;
  let n = 0;
  for (const x of Array.isArray(v) ? v : v instanceof Map || v instanceof Set ? [...v.values()] : Object.values(v)) n += dataBytes(x, depth + 1);
  return n;
}

/** Events, socket bytes (data read and written) and all payload bytes of a recorded trace. */
function traceContents(file) {
  const trace = TraceFile.open(file);
  const socketChannels = new Set(['net.write']);
  let events = 0;
  let socketBytes = 0;
  for (const ev of trace.events()) {
    events++;
    if (ev.kind === 'call' && socketChannels.has(ev.channel.name)) socketBytes += ev.args[1]?.byteLength ?? 0;
    else if (ev.kind === 'deliver' && Array.isArray(ev.payload) && ev.payload[0] === 0 && Buffer.isBuffer(ev.payload[2])) socketBytes += ev.payload[2].length;
  }
  const durationMs = trace.end ? trace.end.endTime - trace.header.startTime : null;
  return { events, socketBytes, durationMs, complete: trace.end !== null };
}

function traceFileOf(dir) {
  const files = fs.readdirSync(dir).filter((f) => /^p\d+\.rtrc$/.test(f)).sort();
  if (files.length === 0) throw new Error(`no trace in ${dir}`);
  return path.join(dir, files[0]);
}

// ---- workloads ----


async function pgAvailable() {
  const pg = require('pg');
  const client = new pg.Client({ host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), user: process.env.PGUSER ?? 'postgres', database: process.env.PGDATABASE ?? 'test', connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
    return null;
  } catch (err) {
    return `no PostgreSQL at ${process.env.PGHOST ?? '127.0.0.1'}:${process.env.PGPORT ?? 5432} (${err.message || err.code})`;
  }
}

const workloads = [
  { key: 'minimal', title: 'minimal node:http server', script: 'bench/servers/minimal-http.mjs', path: '/' },
  { key: 'express-pg', title: 'Express 5 + PostgreSQL, 3 queries per request', script: 'bench/servers/express-pg.mjs', path: '/items/next', needs: pgAvailable },
  { key: 'fastify-fetch', title: 'Fastify 5 calling an upstream service with fetch', script: 'bench/servers/fastify-fetch.mjs', path: '/quote', upstream: true },
];

/** One server run under load: plain, or under `retrace record` into `dir`. */
async function serverRound(w, recordDir, env) {
  const script = path.join(root, w.script);
  const proc = recordDir
    ? startServer(node, [retrace, 'record', '--force', '--out', recordDir, '--', node, script], env)
    : startServer(node, [script], env);
  const { port, pid } = await proc.ready;
  const url = `http://127.0.0.1:${port}${w.path}`;
  const warm = config.warmup > 0 ? await load(url, config.warmup) : { requests: 0, errors: 0 };
  const cpuBefore = processCpuMs(pid);
  const measured = await load(url, config.duration);
  const cpuAfter = processCpuMs(pid);
  process.kill(pid, 'SIGTERM');
  const exit = await proc.exited;
  const rssLine = proc.lines.find((l) => l.startsWith('RSS '));
  if (!rssLine) throw new Error(`${w.key}${recordDir ? ' (recorded)' : ''} ended (${exit.code ?? exit.signal}) without reporting its memory: ${proc.stderr().trim()}`);
  const [, rss, cpu] = /^RSS (\d+) CPU (\d+)/.exec(rssLine) ?? [];
  const totalRequests = warm.requests + measured.requests;
  // CPU of the measured phase alone where /proc says it (start-up, the recorder's included, is a
  // fixed cost that a short run would spread over too few requests); else the whole run's.
  const cpuUsPerRequest = cpuBefore !== null && cpuAfter !== null ? ((cpuAfter - cpuBefore) * 1000) / measured.requests : Number(cpu) / totalRequests;
  return { ...measured, totalRequests, errors: warm.errors + measured.errors, rssKiB: Number(rss), cpuUsPerRequest };
}

async function replayRound(dir) {
  const file = traceFileOf(dir);
  const contents = traceContents(file);
  const sizes = chunkSizes(file);
  const offline = await runProcess('unshare', ['-n', 'true']).then((r) => r.code === 0, () => false);
  const r = offline ? await runProcess('unshare', ['-n', node, retrace, 'replay', dir]) : await runProcess(node, [retrace, 'replay', dir]);
  return { ...contents, ...sizes, replayMs: r.ms, replayOk: r.code === 0, replayExit: r.code, replayOffline: offline, replayError: r.code === 0 ? null : r.stderr.trim().split('\n').slice(-3).join(' / ') };
}

async function benchServer(w) {
  if (w.needs) {
    const missing = await w.needs();
    if (missing) {
      log(`skipping ${w.key}: ${missing}`);
      return { workload: w, skipped: missing };
    }
  }
  let upstream = null;
  const env = {};
  if (w.upstream) {
    upstream = startServer(node, [path.join(root, 'bench/servers/upstream.mjs')]);
    env.UPSTREAM_PORT = String((await upstream.ready).port);
  }
  const plain = [];
  const recorded = [];
  const traces = [];
  try {
    for (let round = 0; round < config.rounds; round++) {
      const dir = path.join(work, `${w.key}-${round}`);
      const order = round % 2 === 0 ? ['plain', 'recorded'] : ['recorded', 'plain'];
      for (const which of order) {
        const r = await serverRound(w, which === 'recorded' ? dir : null, env);
        (which === 'recorded' ? recorded : plain).push(r);
        log(`${w.key} round ${round + 1}/${config.rounds} ${which}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, peak RSS ${Math.round(r.rssKiB / 1024)} MiB, CPU ${Math.round(r.cpuUsPerRequest)} µs/request`);
      }
      const t = await replayRound(dir);
      traces.push(t);
      log(`${w.key} round ${round + 1} trace: ${t.events} events, ${t.eventsStored} B stored / ${t.eventsRaw} B raw, socket bytes ${t.socketBytes}; replay ${Math.round(t.replayMs)} ms (${t.replayOk ? 'ok' : `exit ${t.replayExit}: ${t.replayError}`}) vs recorded ${t.durationMs} ms`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (upstream) {
      upstream.child.kill('SIGTERM');
      await upstream.exited;
    }
  }
  return { workload: w, plain, recorded, traces };
}

// ---- the micro-benchmark ----

async function benchMicro() {
  const env = { BENCH_MICRO_SCALE: String(config.microScale), BENCH_MICRO_BATCHES: String(config.microBatches) };
  const script = path.join(root, 'bench/micro.mjs');
  const parse = (r, which) => {
    const line = r.stdout.split('\n').find((l) => l.startsWith('MICRO '));
    if (r.code !== 0 || !line) throw new Error(`micro-benchmark (${which}) failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
    return JSON.parse(line.slice(6, line.lastIndexOf('}') + 1));
  };
  const plain = [];
  const recorded = [];
  const traces = [];
  for (let round = 0; round < config.microRounds; round++) {
    const dir = path.join(work, `micro-${round}`);
    const order = round % 2 === 0 ? ['plain', 'recorded'] : ['recorded', 'plain'];
    for (const which of order) {
      if (which === 'plain') plain.push(parse(await runProcess(node, [script], { env }), which));
      else {
        recorded.push(parse(await runProcess(node, [retrace, 'record', '--force', '--out', dir, '--', node, script], { env }), which));
        traces.push(chunkSizes(traceFileOf(dir)));
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    log(`micro round ${round + 1}/${config.microRounds} (wall, thread CPU ns/call): ${Object.keys(plain[0]).map((k) => `${k} ${plain.at(-1)[k].nsPerCall.toFixed(1)} -> ${recorded.at(-1)[k].nsPerCall.toFixed(1)}, ${plain.at(-1)[k].cpuNsPerCall?.toFixed(1)} -> ${recorded.at(-1)[k].cpuNsPerCall?.toFixed(1)}`).join('; ')}`);
  }
  const ops = Object.keys(plain[0]).map((name) => {
    const p = median(plain.map((r) => r[name].nsPerCall));
    const r = median(recorded.map((x) => x[name].nsPerCall));
    const added = median(plain.map((x, i) => recorded[i][name].nsPerCall - x[name].nsPerCall));
    const plainCpu = median(plain.map((x) => x[name].cpuNsPerCall));
    const recordedCpu = median(recorded.map((x) => x[name].cpuNsPerCall));
    const addedCpu = median(plain.map((x, i) => (x[name].cpuNsPerCall === null ? null : recorded[i][name].cpuNsPerCall - x[name].cpuNsPerCall)));
    return { name, calls: plain[0][name].calls, plainNs: p, recordedNs: r, addedNs: added, plainCpuNs: plainCpu, recordedCpuNs: recordedCpu, addedCpuNs: addedCpu };
  });
  return { ops, traces };
}

// ---- the report ----

function machine() {
  const cpus = os.cpus();
  return {
    cpu: `${cpus[0]?.model ?? 'unknown'} (${cpus.length} logical cores${cpus[0]?.speed ? `, ${cpus[0].speed} MHz` : ''})`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

const ratio = (a, b) => (a === null || b === null || b === 0 ? null : a / b);

/**
 * A throughput target judged on the per-round ratios: met when the lower quartile reaches it, not
 * met when the upper quartile stays below it, and inconclusive when the noise straddles it.
 */
function verdict(ratios, target) {
  const xs = ratios.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return 'not measured';
  const q = (f) => xs[Math.min(xs.length - 1, Math.max(0, Math.round(f * (xs.length - 1))))];
  const [lo, hi] = [q(0.25), q(0.75)];
  if (lo >= target) return '**met**';
  if (hi < target) return '**not met**';
  return `**inconclusive**: the middle half of the per-round ratios (${lo.toFixed(2)}–${hi.toFixed(2)}) straddles ${target}`;
}

function serverSummary(s) {
  if (s.skipped) return null;
  const rps = ratio(median(s.recorded.map((r) => r.rps)), median(s.plain.map((r) => r.rps)));
  const perRound = median(s.plain.map((p, i) => s.recorded[i].rps / p.rps));
  const t = s.traces;
  return {
    plainRps: median(s.plain.map((r) => r.rps)),
    recordedRps: median(s.recorded.map((r) => r.rps)),
    rpsRatio: rps,
    rpsRatioPerRound: perRound,
    rpsRatios: s.plain.map((p, i) => s.recorded[i].rps / p.rps),
    cpuRatio: ratio(median(s.recorded.map((r) => r.cpuUsPerRequest)), median(s.plain.map((r) => r.cpuUsPerRequest))),
    plainP50: median(s.plain.map((r) => r.p50)),
    recordedP50: median(s.recorded.map((r) => r.p50)),
    plainP99: median(s.plain.map((r) => r.p99)),
    recordedP99: median(s.recorded.map((r) => r.p99)),
    plainCpu: median(s.plain.map((r) => r.cpuUsPerRequest)),
    recordedCpu: median(s.recorded.map((r) => r.cpuUsPerRequest)),
    plainRss: median(s.plain.map((r) => r.rssKiB)),
    recordedRss: median(s.recorded.map((r) => r.rssKiB)),
    errors: s.plain.concat(s.recorded).reduce((n, r) => n + r.errors, 0),
    events: median(t.map((x) => x.events)),
    eventsPerRequest: median(t.map((x, i) => x.events / s.recorded[i].totalRequests)),
    rawPerRequest: median(t.map((x, i) => x.eventsRaw / s.recorded[i].totalRequests)),
    storedPerRequest: median(t.map((x, i) => x.eventsStored / s.recorded[i].totalRequests)),
    socketPerRequest: median(t.map((x, i) => x.socketBytes / s.recorded[i].totalRequests)),
    rawPerEvent: median(t.map((x) => x.eventsRaw / x.events)),
    storedPerEvent: median(t.map((x) => x.eventsStored / x.events)),
    storedOverSocket: median(t.map((x) => x.eventsStored / x.socketBytes)),
    replayMs: median(t.map((x) => x.replayMs)),
    recordMs: median(t.map((x) => x.durationMs)),
    replayOverRecord: median(t.map((x) => x.replayMs / x.durationMs)),
    replayFailures: t.filter((x) => !x.replayOk).map((x) => `exit ${x.replayExit}: ${x.replayError.replace(/^retrace: replaying process \d+: .*? \/ (?=retrace: )/, '')}`),
    replayOffline: t.every((x) => x.replayOffline),
  };
}

/** What the profiles showed and what was changed because of it: prose, no figures (those are above and in the commit messages). */
function analysis() {
  return [
    '## Where the time goes',
    '',
    'Profiles of the recorded minimal server under autocannon (`node --cpu-prof`, and `perf record` of its main thread with `--perf-basic-prof` for on-CPU samples, which ' +
      'stay meaningful on a loaded machine where wall-clock samples do not) show no single hot spot. The extra main-thread CPU per request splits into three parts of similar size:',
    '',
    '1. **The HTTP server reads through JavaScript.** Unrecorded, Node\'s HTTP parser consumes an accepted socket inside C++ and no bytes reach JavaScript. ' +
      'Recording needs the bytes, so accepted sockets are marked consumed for C++ and the parser is fed from \'data\' events: a new ArrayBuffer per read, ' +
      '`onStreamRead`, the Readable stream machinery and `socketOnData`. This is the price of recording at the byte level and weighs most on the minimal server, whose handler does nothing.',
    '2. **Recording proper**: the handle\'s `onread` wrapper, encoding each read and write into the event buffer (`writeValue`, a copy of the bytes), the `net.write` call wrapper ' +
      'and the masking of the `Date` header in response heads.',
    '3. **Kernel and allocator time** that grows with the above (more allocations, a second thread).',
    '',
    'Changed because of the profiles (each commit message has before/after figures):',
    '',
    '- The hand-off of full chunks to the writer\'s worker cost about a millisecond per 64 KiB chunk on the program\'s thread (`new Uint8Array(buffer)` takes an element-by-element path ' +
      'for a Buffer, then `postMessage` cloned it again). Chunks now go through an 8 MiB ring of shared memory: one memcpy and an atomic counter per chunk, no message, no per-chunk ' +
      'allocation, and bounded memory (the program waits when the worker is a full ring behind, instead of queueing copies without limit).',
    '- The worker stores chunks that deflate cannot shrink by a quarter uncompressed for a while: deflating `Math.random` results cost the worker several times the program\'s own work ' +
      'for a 20% saving.',
    '- Socket events that are not recorded (\'data\', \'end\', \'drain\'...) pass the `emit` observer without a copy of their arguments.',
    '- `Date.now`/`Math.random` events are written with one bounds check.',
    '',
    'Not done, and where the rest is: feeding the HTTP parser from C++ again would need recording HTTP servers at the parser rather than at the socket (a different design of the ' +
      'network boundary); deliveries still build a small payload array per event (`[kind, inline, bytes]`), and each turn that touches a socket queues one `process.nextTick` to close its inline mark.',
  ];
}

function report(results, started) {
  const m = machine();
  const L = [];
  const servers = results.servers.map((s) => ({ s, sum: serverSummary(s) }));
  const byKey = Object.fromEntries(servers.map(({ s, sum }) => [s.workload.key, sum]));
  const micro = results.micro;
  const op = (name) => micro?.ops.find((o) => o.name === name);
  L.push('# Recording overhead benchmarks', '');
  L.push(`Generated by \`npm run bench${smoke ? ':smoke' : ''}\` (bench/run.mjs) on ${started.toISOString()}; do not edit by hand.${smoke ? ' **Smoke run: durations too short for the figures to mean anything.**' : ''}`, '');
  L.push('## Machine', '');
  L.push(`- CPU: ${m.cpu}`, `- Memory: ${m.memory}`, `- OS: ${m.os}`, `- Node.js: ${m.node}`, `- Load average when the run ended (1, 5, 15 min): ${m.load}`, '');
  L.push('## Method', '');
  L.push(
    `- Each server runs as its own process, plain (\`node server.mjs\`) or recorded (\`retrace record -- node server.mjs\`), ` +
      `under autocannon 8 in another process: ${config.connections} connections, ${config.warmup} s of warm-up load then ${config.duration} s measured. ` +
      `Plain and recorded runs alternate (plain first in odd rounds, recorded first in even rounds), ${config.rounds} round${config.rounds === 1 ? '' : 's'}; every figure is the median over the rounds.`,
    '- The Fastify workload calls an upstream HTTP service (an unrecorded plain `node:http` process) with the global `fetch` for every request. ' +
      'The Express workload makes three PostgreSQL queries per request through `pg.Pool` (a row by key, an aggregate over its category, an update) on the local server.',
    '- Throughput is requests completed / measured seconds; latency percentiles are autocannon\'s (whole milliseconds). Peak RSS is the server process\'s own `process.resourceUsage().maxRSS`, printed at SIGTERM ' +
      '(the recorded figure includes the trace writer\'s worker thread, which lives in the same process). ' +
      'Server CPU per request is the server process\'s user + system CPU time (all its threads, from /proc/PID/stat, 10 ms resolution) during the measured phase over its requests: ' +
      'on two cores shared with the load generator it measures the cost of recording more steadily than throughput does.',
    '- Trace size: chunk headers of the trace file give the raw (encoded) and stored (deflated) bytes of the event chunks. "Socket bytes" are the bytes that crossed the boundary: ' +
      'every byte the server read from or wrote to its sockets (HTTP clients, PostgreSQL, the upstream), summed from the trace\'s `net.write` calls and data deliveries. Per request divides by the requests of both load phases (warm-up and measured).',
    `- Replay: \`retrace replay\` of each recorded server run${results.servers.some((s) => s.traces?.some((t) => t.replayOffline)) ? ', under `unshare -n` (no network)' : ''}, wall time from spawn to exit, against the recorded process\'s lifetime (header \`startTime\` to end \`endTime\`). ` +
      'A server\'s replay re-runs its whole recorded traffic, warm-up included, with no network wait.',
    `- Micro-benchmark (bench/micro.mjs): tight loops of one boundary call each, in batches (${config.microBatches} measured after one warm-up batch; the median batch counts), ` +
      `plain and recorded processes alternating, ${config.microRounds} round${config.microRounds === 1 ? '' : 's'}. "Added" is the median over rounds of recorded minus plain ns per call. ` +
      'Wall time counts the moments the loop was preempted by other processes; thread CPU time (`process.threadCpuUsage()`) counts what the program\'s own thread spent, ' +
      'which is what recording adds to it (the trace writer\'s worker thread compresses and writes on another core, and is counted in the servers\' CPU per request). The target is judged on thread CPU time.',
    `- The machine is shared: other engineers ran test suites on it during this run (load average ${results.loadAtStart} at the start, ${m.load} at the end, on ${os.cpus().length} cores), so absolute figures move a lot between rounds; ` +
      'the alternation and medians are there so that the noise hits both sides alike, and the per-round ratios are listed so that their spread shows. Server CPU per request is the steadier measure of what recording costs.',
    '',
  );

  L.push('## Targets', '');
  L.push('| target | measured | status |', '|---|---|---|');
  const ex = byKey['express-pg'];
  const mi = byKey.minimal;
  const skippedPg = `skipped: ${results.servers.find((s) => s.workload.key === 'express-pg')?.skipped ?? 'not run'}`;
  L.push(`| Express + PostgreSQL throughput, recorded / plain ≥ 0.97 (aim 0.99) | ${ex ? `${fmt(ex.rpsRatio, 3)} (per round: ${ex.rpsRatios.map((x) => fmt(x, 2)).join(', ')})` : skippedPg} | ${ex ? verdict(ex.rpsRatios, 0.97) : 'not measured'} |`);
  L.push(`| the same, judged on server CPU per request (plain / recorded: the throughput ratio of a CPU-bound server) | ${ex ? fmt(ratio(ex.plainCpu, ex.recordedCpu), 3) : skippedPg} | ${ex ? met(ratio(ex.plainCpu, ex.recordedCpu) >= 0.97) : 'not measured'} |`);
  L.push(`| minimal server throughput, recorded / plain ≥ 0.90 | ${mi ? `${fmt(mi.rpsRatio, 3)} (per round: ${mi.rpsRatios.map((x) => fmt(x, 2)).join(', ')})` : 'not run'} | ${mi ? verdict(mi.rpsRatios, 0.9) : 'not measured'} |`);
  L.push(`| the same, judged on server CPU per request (plain / recorded) | ${mi ? fmt(ratio(mi.plainCpu, mi.recordedCpu), 3) : 'not run'} | ${mi ? met(ratio(mi.plainCpu, mi.recordedCpu) >= 0.9) : 'not measured'} |`);
  for (const name of ['Date.now', 'Math.random']) {
    const o = op(name);
    const cpuKnown = o && o.addedCpuNs !== null;
    L.push(`| < 50 ns added per \`${name}\` call (program's thread CPU; wall in brackets) | ${o ? `${fmt(o.addedCpuNs, 1)} ns (wall ${fmt(o.addedNs, 1)} ns)` : 'not run'} | ${o ? met(cpuKnown ? o.addedCpuNs < 50 : o.addedNs < 50) : 'not measured'} |`);
  }
  const traceRatios = servers.filter((x) => x.sum).map(({ s, sum }) => `${s.workload.key} ${fmt(sum.storedOverSocket, 2)}`);
  const allSmaller = servers.filter((x) => x.sum).every(({ sum }) => sum.storedOverSocket < 1);
  L.push(`| trace smaller than the bytes that crossed the boundary (stored / socket bytes < 1) | ${traceRatios.join(', ') || 'not run'} | ${traceRatios.length ? met(allSmaller) : 'not measured'} |`);
  const replayRatios = servers.filter((x) => x.sum).map(({ s, sum }) => `${s.workload.key} ${fmt(sum.replayOverRecord, 2)}`);
  const allFaster = servers.filter((x) => x.sum).every(({ sum }) => sum.replayOverRecord < 1);
  const failedReplays = servers.filter((x) => x.sum && x.sum.replayFailures.length > 0).map(({ s, sum }) => `${s.workload.key} (${sum.replayFailures.length} of ${s.traces.length} diverged)`);
  const replayStatus = !replayRatios.length ? 'not measured' : failedReplays.length ? `**not met**: replay failed for ${failedReplays.join(', ')}; see Replay` : met(allFaster);
  L.push(`| replay faster than the recording took (replay / record time < 1) | ${replayRatios.join(', ') || 'not run'} | ${replayStatus} |`);
  L.push('');

  L.push(...analysis(), '');
  L.push('## Servers under load', '');
  L.push('| workload | plain req/s | recorded req/s | ratio | per-round ratios | p50 ms plain / recorded | p99 ms plain / recorded | server CPU µs/request plain / recorded | errors |', '|---|---|---|---|---|---|---|---|---|');
  for (const { s, sum } of servers) {
    if (!sum) {
      L.push(`| ${s.workload.title} | skipped: ${s.skipped} | | | | | | | |`);
      continue;
    }
    L.push(`| ${s.workload.title} | ${fmt(sum.plainRps)} | ${fmt(sum.recordedRps)} | ${fmt(sum.rpsRatio, 3)} | ${sum.rpsRatios.map((x) => fmt(x, 2)).join(', ')} | ${fmt(sum.plainP50)} / ${fmt(sum.recordedP50)} | ${fmt(sum.plainP99)} / ${fmt(sum.recordedP99)} | ${fmt(sum.plainCpu)} / ${fmt(sum.recordedCpu)} | ${sum.errors} |`);
  }
  L.push('');
  L.push('## Trace size', '');
  L.push('| workload | events / request | socket bytes / request | raw bytes / request | stored bytes / request | raw bytes / event | stored bytes / event | stored / socket bytes |', '|---|---|---|---|---|---|---|---|');
  for (const { s, sum } of servers) {
    if (!sum) continue;
    L.push(`| ${s.workload.key} | ${fmt(sum.eventsPerRequest, 1)} | ${fmt(sum.socketPerRequest)} | ${fmt(sum.rawPerRequest)} | ${fmt(sum.storedPerRequest)} | ${fmt(sum.rawPerEvent, 1)} | ${fmt(sum.storedPerEvent, 1)} | ${fmt(sum.storedOverSocket, 3)} |`);
  }
  L.push('');
  L.push('## Replay', '');
  L.push('| workload | events | recorded process ran (ms) | replay took (ms) | replay / record | replay failures |', '|---|---|---|---|---|---|');
  for (const { s, sum } of servers) {
    if (!sum) continue;
    L.push(`| ${s.workload.key} | ${fmt(sum.events)} | ${fmt(sum.recordMs)} | ${fmt(sum.replayMs)} | ${fmt(sum.replayOverRecord, 2)} | ${sum.replayFailures.length === 0 ? 'none' : `${sum.replayFailures.length} of ${s.traces.length}, e.g. ${sum.replayFailures[0]}`} |`);
  }
  L.push('');
  if (servers.some(({ sum }) => sum?.replayFailures.length)) {
    L.push('Replay failures are correctness problems of the network replay, not of speed; the replay time of a failed replay is the time until it stopped.', '');
  }
  L.push('## Memory', '');
  L.push('| workload | peak RSS plain (MiB) | peak RSS recorded (MiB) | recorded / plain |', '|---|---|---|---|');
  for (const { s, sum } of servers) {
    if (!sum) continue;
    L.push(`| ${s.workload.key} | ${fmt(sum.plainRss / 1024, 1)} | ${fmt(sum.recordedRss / 1024, 1)} | ${fmt(ratio(sum.recordedRss, sum.plainRss), 2)} |`);
  }
  L.push('');
  if (micro) {
    L.push('## Boundary calls in a tight loop', '');
    L.push('| call | calls per batch | wall ns/call plain / recorded | added wall ns/call | thread CPU ns/call plain / recorded | added thread CPU ns/call |', '|---|---|---|---|---|---|');
    for (const o of micro.ops) L.push(`| \`${o.name}\` | ${o.calls} | ${fmt(o.plainNs, 1)} / ${fmt(o.recordedNs, 1)} | ${fmt(o.addedNs, 1)} | ${fmt(o.plainCpuNs, 1)} / ${fmt(o.recordedCpuNs, 1)} | ${fmt(o.addedCpuNs, 1)} |`);
    const t = median(micro.traces.map((x) => x.eventsStored));
    const r = median(micro.traces.map((x) => x.eventsRaw));
    L.push('', `The micro-benchmark's trace: ${fmt(r / 2 ** 20, 1)} MiB of encoded events, ${fmt(t / 2 ** 20, 1)} MiB stored.`, '');
  }
  return L.join('\n') + '\n';
}

// ---- main ----

const started = new Date();
log(`${smoke ? 'smoke' : 'full'} run: ${config.rounds} round(s) of ${config.warmup}+${config.duration} s per server; writing ${path.relative(process.cwd(), outFile) || outFile}`);
const results = { servers: [], micro: null, loadAtStart: os.loadavg().map((x) => x.toFixed(2)).join(' ') };
try {
  for (const w of workloads) {
    if (only && !only.includes(w.key)) continue;
    const s = await benchServer(w);
    results.servers.push(s);
  }
  if (!only || only.includes('micro')) results.micro = await benchMicro();
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
// The provenance conformance section (bench/provenance-conformance.mjs, run on its own: it needs
// PostgreSQL and takes minutes) is kept as it was.
// The pack section (bench/pack.mjs) and the debugger's (bench/dap.mjs) are kept the same way.
const previous = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
const kept = [/<!-- provenance-conformance:start -->[\s\S]*?<!-- provenance-conformance:end -->/, /<!-- pack:start[^>]*-->[\s\S]*?<!-- pack:end -->/, /<!-- dap:begin[^>]*-->[\s\S]*?<!-- dap:end -->/]
  .map((marked) => marked.exec(previous)?.[0])
  .filter(Boolean);
fs.writeFileSync(outFile, kept.length > 0 ? `${report(results, started).trimEnd()}\n\n${kept.join('\n\n')}\n` : report(results, started));
log(`wrote ${outFile}`);

// The provenance benchmark (bench/provenance.mjs) adds its section and its Targets rows to the same
// file, in the same mode, so that `npm run bench` and `npm run bench:smoke` cover it too.
if (!only || only.includes('provenance')) {
  const provenance = spawn(node, [path.join(root, 'bench', 'provenance.mjs'), '--out', outFile, ...(smoke ? ['--smoke'] : [])], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise((resolve) => provenance.on('exit', (c, signal) => resolve(c ?? signal)));
  if (code !== 0) {
    log(`the provenance benchmark failed (${code})`);
    process.exitCode = 1;
  }
}
