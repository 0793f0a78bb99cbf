// Hostile and damaged recordings: a seeded fuzz of mutated traces (byte flips, truncations, chunk
// drops, repeats and swaps, CRC-valid edits of chunk contents, huge lengths) against the reader,
// `info` and `show` in this process, and a sample through the real CLI (info, show, replay). None
// may end in an internal error or a stack trace, hang, or grow without bound; every dropped,
// repeated or reordered chunk must be reported as damage. RETRACE_FUZZ_SEED replays one run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, describeRun, record, repoRoot, retrace as spawnRetrace, workdir, writeFiles } from './helpers.js';
import { prng } from './program-generator.js';
import { chunksOf, fileOf, rawOf, withRaw, type Chunk } from './trace-bytes.js';
import { TraceError, TraceFile } from '../src/core/trace/reader.js';
import { CorruptTraceError } from '../src/core/trace/codec.js';
import { info } from '../src/cli/info.js';
import { formatLine } from '../src/cli/show.js';
import { mergedTimeline } from '../src/inspect/timeline.js';
import { jsonSafe } from '../src/inspect/events.js';

const SEED = Number(process.env.RETRACE_FUZZ_SEED ?? Date.now() % 1_000_000);
const IN_PROCESS = 500;
const THROUGH_CLI = Number(process.env.RETRACE_FUZZ_CLI ?? 6);

// Small, so that each mutant reads fast, and spread over several 200 ms flushes, so that it has several event chunks.
const program = `
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
const cfg = JSON.parse(fs.readFileSync(new URL('./cfg.json', import.meta.url), 'utf8'));
let total = 0;
for (let i = 0; i < 500; i++) total += Math.random();
console.log('read', cfg.name, cfg.list.length, total > 0, randomBytes(8).length, new Date(Date.now()).getFullYear() > 2000);
setTimeout(() => {
  console.log('timer', process.env.HOME !== undefined, performance.now() > 0);
  setTimeout(() => fs.readFile(new URL('./cfg.json', import.meta.url), (err, data) => {
    console.log('async read', err ? err.code : data.length, Math.random() < 1);
    setTimeout(() => console.log('last', Date.now() > 0), 250);
  }), 250);
}, 250);
`;

type Mutation = { name: string; bytes: Buffer; structural: boolean };

function mutate(base: Buffer, r: () => number): Mutation {
  const int = (n: number) => Math.floor(r() * n);
  const chunks = chunksOf(base);
  const kind = int(9);
  switch (kind) {
    case 0: {
      const b = Buffer.from(base);
      const flips = 1 + int(4);
      for (let i = 0; i < flips; i++) b[int(b.length)] ^= 1 << int(8);
      return { name: `flip ${flips} bytes`, bytes: b, structural: false };
    }
    case 1:
      return { name: 'truncate', bytes: base.subarray(0, int(base.length)), structural: false };
    case 2: {
      const i = 1 + int(chunks.length - 1);
      // Without its last chunk (the end chunk) a trace reads as one whose process was killed: truncated, not damaged.
      return { name: `drop chunk ${i}`, bytes: fileOf(base, chunks.filter((_, j) => j !== i)), structural: i < chunks.length - 1 };
    }
    case 3: {
      const i = int(chunks.length);
      const copy = [...chunks];
      copy.splice(i + 1, 0, chunks[i]!);
      return { name: `repeat chunk ${i}`, bytes: fileOf(base, copy), structural: true };
    }
    case 4: {
      const i = int(chunks.length - 1);
      const copy = [...chunks];
      [copy[i], copy[i + 1]] = [copy[i + 1]!, copy[i]!];
      return { name: `swap chunks ${i} and ${i + 1}`, bytes: fileOf(base, copy), structural: true };
    }
    case 5:
    case 6: {
      // The contents of one chunk edited, stored again with a valid checksum: only the reader's own checks can catch it.
      const i = int(chunks.length);
      const raw = Buffer.from(rawOf(chunks[i]!));
      const edits = 1 + int(6);
      let edited = raw;
      for (let e = 0; e < edits; e++) {
        const at = int(edited.length + 1);
        const op = int(3);
        if (op === 0 && edited.length > 0) edited[Math.min(at, edited.length - 1)] = int(256);
        else if (op === 1) edited = Buffer.concat([edited.subarray(0, at), Buffer.from([int(256), int(256), int(256)]), edited.subarray(at)]);
        else edited = Buffer.concat([edited.subarray(0, at), edited.subarray(at + 1 + int(8))]);
      }
      const copy = [...chunks];
      copy[i] = withRaw(chunks[i]!, edited);
      return { name: `edit chunk ${i} (type ${chunks[i]!.type}) contents`, bytes: fileOf(base, copy), structural: false };
    }
    case 7: {
      // Huge lengths: a varint count or length, or a chunk length field.
      const i = int(chunks.length);
      const copy = [...chunks];
      if (r() < 0.5) {
        copy[i] = { ...chunks[i]!, rawLength: 0xfffffff0 - int(1000) };
        return { name: `chunk ${i} claims a huge raw length`, bytes: fileOf(base, copy), structural: false };
      }
      const raw = Buffer.from(rawOf(chunks[i]!));
      const at = int(raw.length);
      const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
      copy[i] = withRaw(chunks[i]!, Buffer.concat([raw.subarray(0, at), huge, raw.subarray(at)]));
      return { name: `huge varint in chunk ${i}`, bytes: fileOf(base, copy), structural: false };
    }
    default: {
      // A chunk's header fields changed with a valid checksum: its type, codec or sequence number.
      const i = int(chunks.length);
      const copy: Chunk[] = [...chunks];
      const field = int(3);
      copy[i] = field === 0 ? { ...chunks[i]!, type: int(8) } : field === 1 ? { ...chunks[i]!, codec: int(8) } : { ...chunks[i]!, seq: int(chunks.length + 2) };
      return { name: `chunk ${i} header field ${['type', 'codec', 'seq'][field]} changed`, bytes: fileOf(base, copy), structural: field === 2 && copy[i]!.seq !== i };
    }
  }
}

/** Reads a trace as info and show do, in this process; returns what the user is told about damage. */
function readAll(file: string): string {
  let trace: TraceFile;
  try {
    trace = TraceFile.open(file);
  } catch (err) {
    if (err instanceof TraceError) return `error: ${err.message}`;
    throw err;
  }
  let problem = trace.truncation ?? '';
  try {
    for (const ev of trace.events()) void ev;
  } catch (err) {
    if (!(err instanceof CorruptTraceError)) throw err;
    problem += ` events: ${err.message}`;
  }
  const processes = info(file);
  for (const e of mergedTimeline([trace], { all: true })) {
    formatLine(e);
    JSON.stringify(jsonSafe(e.fields));
  }
  return `${problem} ${processes.map((p) => `${p.end} ${p.problem ?? ''}`).join(' ')}`;
}

function run(cwd: string, args: string[]): Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd, timeout: 60_000, maxBuffer: 64 << 20, encoding: 'utf8', env: { ...process.env, RETRACE_STALL_MS: '500' } }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: string | null }) | null;
      resolve({ status: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const STACK = /internal error|\n\s+at [^\n]*[(:]\d+|^\s+at /m;

test(`seeded fuzz of damaged recordings (seed ${SEED}): the reader, info, show and replay stay in their lane`, { timeout: 600_000 }, async (t) => {
  const dir = workdir('retrace-fuzz-');
  writeFiles(dir, { 'app.mjs': program, 'cfg.json': JSON.stringify({ name: 'fuzz', list: [1, 2, 3, { deep: [true, null, 'x'] }] }) });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const base = fs.readFileSync(path.join(dir, 'recording', 'p0.rtrc'));
  assert.ok(chunksOf(base).length >= 6, `a base recording with several chunks, not ${chunksOf(base).length}`);
  const r = prng(SEED);
  const failures: string[] = [];
  const mutantsDir = path.join(dir, 'mutants');
  fs.mkdirSync(mutantsDir);
  const sample: { name: string; dir: string }[] = [];
  const started = Date.now();

  for (let n = 0; n < IN_PROCESS; n++) {
    const m = mutate(base, r);
    const file = path.join(mutantsDir, `m${n}.rtrc`);
    fs.writeFileSync(file, m.bytes);
    try {
      const told = readAll(file);
      if (m.structural && !/damaged|missing|repeated|out of order|no header|not a complete/.test(told)) {
        failures.push(`#${n} ${m.name}: not reported as damage (${told.trim()})`);
      }
    } catch (err) {
      failures.push(`#${n} ${m.name}: ${(err as Error).stack}`);
    }
    if (n % Math.floor(IN_PROCESS / THROUGH_CLI) === 0 && sample.length < THROUGH_CLI) {
      const d = path.join(dir, `cli${n}`);
      fs.mkdirSync(path.join(d, 'recording'), { recursive: true });
      fs.copyFileSync(path.join(dir, 'app.mjs'), path.join(d, 'app.mjs'));
      fs.copyFileSync(path.join(dir, 'cfg.json'), path.join(d, 'cfg.json'));
      fs.writeFileSync(path.join(d, 'recording', 'p0.rtrc'), m.bytes);
      sample.push({ name: `#${n} ${m.name}`, dir: d });
    }
    fs.rmSync(file);
  }

  t.diagnostic(`${IN_PROCESS} mutants read in this process in ${Date.now() - started} ms`);
  const cliStarted = Date.now();
  // The sample through the real CLI, two at a time.
  const commands: [string[], Set<number>][] = [
    [['info'], new Set([0, 2])],
    [['show', '--json', '--no-pager'], new Set([0, 2])],
    [['replay', '--trust'], new Set([0, 2, 86, 87])],
  ];
  const jobs = sample.flatMap((s) => commands.map(([args, ok]) => ({ s, args, ok })));
  const worker = async () => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      const res = await run(job.s.dir, job.args);
      const where = `${job.s.name}: retrace ${job.args.join(' ')}`;
      if (res.signal || res.status === null || !job.ok.has(res.status)) failures.push(`${where}: ${describeRun({ ...res, signal: res.signal as NodeJS.Signals | null })}`);
      else if (STACK.test(res.stderr)) failures.push(`${where}: a stack trace\n${res.stderr}`);
    }
  };
  await Promise.all([worker(), worker()]);
  t.diagnostic(`${sample.length} mutants through info, show --json and replay in ${Date.now() - cliStarted} ms`);
  assert.deepEqual(failures, [], `seed ${SEED}: ${failures.length} failures (RETRACE_FUZZ_SEED=${SEED} reproduces them)\n${failures.slice(0, 8).join('\n\n')}`);
});

test('a dropped, repeated or swapped chunk is damage: replay stops there and says so, info reports it', () => {
  const dir = workdir('retrace-chunks-');
  writeFiles(dir, { 'app.mjs': program, 'cfg.json': JSON.stringify({ name: 'x', list: [] }) });
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  const file = path.join(dir, 'recording', 'p0.rtrc');
  const base = fs.readFileSync(file);
  const chunks = chunksOf(base);
  const events = chunks.map((c, i) => (c.type === 2 ? i : -1)).filter((i) => i >= 0);
  assert.ok(events.length >= 3, 'several event chunks');
  const [a, b] = [events[1]!, events[2]!];
  const cases: [string, Chunk[], RegExp][] = [
    ['dropped', chunks.filter((_, i) => i !== a), /a chunk is missing or out of order before byte \d+ \(chunk \d+ where chunk \d+ belongs\)/],
    ['repeated', [...chunks.slice(0, a + 1), chunks[a]!, ...chunks.slice(a + 1)], /the chunk at byte \d+ is repeated or out of order/],
    ['swapped', chunks.map((c, i) => (i === a ? chunks[b]! : i === b ? chunks[a]! : c)), /.*missing or out of order/],
  ];
  for (const [what, edited, message] of cases) {
    fs.writeFileSync(file, fileOf(base, edited));
    const rep = spawnRetrace(dir, ['replay']);
    assert.equal(rep.status, 87, `${what}: ${describeRun(rep)}`);
    assert.match(rep.stderr, new RegExp(`retrace: recording ends here \\(truncated\\): damaged: ${message.source}`), what);
    const inf = spawnRetrace(dir, ['info']);
    assert.equal(inf.status, 0, describeRun(inf));
    assert.match(inf.stdout, message, what);
  }
});

test('a recording of trace format 2 (no sequence numbers) still reads and replays', () => {
  const dir = workdir('retrace-format2-');
  fs.cpSync(path.join(repoRoot, 'test', 'fixtures', 'format2'), dir, { recursive: true });
  const inf = spawnRetrace(dir, ['info']);
  assert.equal(inf.status, 0, describeRun(inf));
  assert.match(inf.stdout, /exit status 0/);
  const rep = spawnRetrace(dir, ['replay']);
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, fs.readFileSync(path.join(dir, 'expected.txt'), 'utf8'));
});
