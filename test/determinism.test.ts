// Adversarial determinism tests: programs whose schedule genuinely varies from run to run (racing
// timers, threadpool jobs finishing in any order, delays and cancellations drawn at run time) must
// replay exactly as recorded, every time, offline.
//
// Seeds: RETRACE_SEEDS=7,8,9 runs those seeds of the generated programs; RETRACE_SEEDS=random:12
// runs 12 fresh random seeds (printed). A failure names its seed and leaves the program and its
// recording in place (the folder is in the message); regenerate it with
// `generateProgram(seed, options)` from test/program-generator.ts.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { assertReplaysFaithfully, cli, describeRun, record, replay, repoRoot, retrace, runPlain, runPlainAsync, workdir, writeFiles, type Run } from './helpers.js';
import { firstDifference, generateProgram, taskOrder, type GeneratorOptions } from './program-generator.js';

// ---- shared checks ----

const REPLAYS = 3;

/**
 * Whether a boundary module is implemented yet (the placeholders say "Being written").
 * RETRACE_DETERMINISM_FORCE=fs,child-process runs its cases regardless.
 */
function implemented(module: string): boolean {
  if ((process.env.RETRACE_DETERMINISM_FORCE ?? '').split(',').includes(module.replace(/\.ts$/, ''))) return true;
  const source = fs.readFileSync(path.join(repoRoot, 'src', 'boundary', module), 'utf8');
  return !/Being written/.test(source) && /install\s*\([^)]/.test(source);
}
const FS_READY = implemented('fs.ts');
const CHILD_PROCESS_READY = implemented('child-process.ts');

function sameRun(rec: Run, rep: Run): boolean {
  return rep.status === rec.status && rep.signal === rec.signal && rep.stdout === rec.stdout;
}

function mismatch(context: string, rec: Run, rep: Run, which: string): string {
  return [
    `${context}: ${which} differs from the recording`,
    `  exit: recorded ${rec.status}${rec.signal ? ` (${rec.signal})` : ''}, replayed ${rep.status}${rep.signal ? ` (${rep.signal})` : ''}`,
    `  ${firstDifference(rec.stdout, rep.stdout)}`,
    '--- replay stderr ---',
    rep.stderr.trimEnd(),
  ].join('\n');
}

/** Replays the recording in dir `times` times, offline, and checks each against `rec`. */
function assertReplaysMatch(dir: string, rec: Run, context: string, opts: { args?: string[]; times?: number } = {}): void {
  assertReplaysFaithfully(dir, rec, { times: opts.times ?? REPLAYS, args: opts.args, context, expected: { status: rec.status, signal: rec.signal, stdout: rec.stdout } });
}

/** Records `app.mjs` in dir and replays it; returns the recording's run. */
function recordAndReplay(dir: string, context: string, expectStatus = 0): Run {
  const rec = record(dir, ['node', 'app.mjs']);
  assert.equal(rec.status, expectStatus, `${context}: the recording itself\n${describeRun(rec)}`);
  assertReplaysMatch(dir, rec, context);
  return rec;
}

/** The schedule a run followed: its `> id what` lines, without the values observed. */
const schedule = (r: Run) => taskOrder(r.stdout).join('\n');

/** True when at least two of `runs` unrecorded runs of app.mjs in dir followed different schedules. */
function schedulesVary(dir: string, runs: number, of: (r: Run) => string = schedule): boolean {
  const seen = new Set<string>();
  for (let i = 0; i < runs; i++) {
    seen.add(of(runPlain(dir, ['app.mjs'])));
    if (seen.size > 1) return true;
  }
  return false;
}

// ---- seeds ----

function seedsFromEnv(): number[] {
  const spec = process.env.RETRACE_SEEDS;
  if (!spec) return Array.from({ length: 12 }, (_, i) => 1001 + i);
  const random = /^random:(\d+)$/.exec(spec);
  if (random) return Array.from({ length: Number(random[1]) }, () => Math.floor(Math.random() * 2 ** 31));
  return spec.split(',').map((s) => Number(s.trim()));
}
const SEEDS = seedsFromEnv();

// ---- known bugs that would mask every other failure of the generated programs ----
//
// Each entry is a small program isolating one bug, and the generated task kinds that trigger it.
// Its own test (below) records and replays it and stays failing until the bug is fixed. While it
// fails, the generated programs leave those kinds out, so the seeded sweep still tests everything
// else instead of failing on the same bug in every seed; once it passes they are generated again.
interface KnownBug {
  title: string;
  kinds: string[];
  program: string;
  /** For a bug that shows only sometimes: how many recordings to make (each replayed twice). */
  rounds?: number;
}

const KNOWN_BUGS: KnownBug[] = [
  {
    // FIXED in 3884486 (kept as a regression test). src/boundary/random.ts registered the callback
    // forms of crypto.randomBytes / randomInt with wrapCallback under the same channel name as
    // their sync forms; engine.channel() returned the Call-shaped channel, so a request event was
    // written onto a Call channel and every later event was mis-decoded ("unknown value tag").
    title: 'crypto.randomBytes / randomInt callback forms keep their own channel (trace not corrupted)',
    kinds: ['randomBytes-cb'],
    program: `import { randomBytes, randomInt } from 'node:crypto';
console.log('sync', randomBytes(4).toString('hex'), randomInt(1000));
randomBytes(8, (err, buf) => console.log('bytes cb', err, buf.toString('hex')));
setTimeout(() => { randomInt(1000, (err, n) => console.log('int cb', err, n)); }, 1);
setTimeout(() => console.log('after', randomBytes(2).toString('hex'), randomInt(10)), 3);
`,
  },
  {
    // FIXED in be83971 (kept as a regression test). Node's crypto.randomInt(max, callback) draws
    // from a 6 KiB cache of random bytes and, when the cache has bytes, calls back with
    // process.nextTick(callback, undefined, n): in the same turn, ahead of nextTicks queued after
    // it. wrapCallback (src/boundary/wrap.ts) held every callback until the sequencer's next
    // setImmediate, so the program's later nextTicks/microtasks ran first and the first
    // Math.random() among them diverged ("the recording has callback for request 1 with
    // [ undefined, n ]; the program attempted random.Math.random()").
    title: 'crypto.randomInt(max, callback) calls back in its recorded place among nextTicks and microtasks',
    kinds: ['randomInt-cb'],
    program: `import { randomInt } from 'node:crypto';
console.log('sync', randomInt(1000)); // fills Node's cache: the callback forms below use it
randomInt(1000, (err, n) => console.log('int cb', err, n));
process.nextTick(() => console.log('tick', Math.random()));
queueMicrotask(() => console.log('microtask', Math.random()));
setTimeout(() => {
  randomInt(10, (err, n) => console.log('int cb in timer', n));
  process.nextTick(() => console.log('tick in timer', Math.random()));
}, 1);
`,
  },
  {
    // FIXED in be83971 (kept as a regression test). Web Crypto importKey and exportKey (raw, jwk;
    // HMAC, AES) settle their promise in the same turn: the work is synchronous. installSubtle
    // (src/boundary/threadpool.ts) sequenced every subtle method as a request settled at the
    // sequencer's next idle turn, so in replay the program's .then ran after microtasks, nextTicks
    // and immediates that it preceded in the recording.
    title: 'Web Crypto importKey / exportKey settle in their recorded place among microtasks',
    kinds: ['subtle-importKey'],
    program: `const { subtle } = globalThis.crypto;
subtle.importKey('raw', new Uint8Array(16), { name: 'HMAC', hash: 'SHA-256' }, true, ['sign'])
  .then((key) => { console.log('imported', key.type, Math.random()); return subtle.exportKey('raw', key); })
  .then((raw) => console.log('exported', raw.byteLength, Math.random()));
Promise.resolve().then(() => Promise.resolve()).then(() => console.log('microtask', Math.random()));
process.nextTick(() => console.log('tick', Math.random()));
setImmediate(() => console.log('immediate', Math.random()));
`,
  },
  {
    // FIXED in 688580b (kept as a regression test). src/core/replayer.ts Replayer.pump assumed
    // that when its setImmediate runs, the program's nextTicks and microtasks have drained. Not so
    // after a callback it delivered threw and an 'uncaughtException' handler dealt with it: Node
    // does not drain the queues after a throwing callback (it queues a no-op immediate so that
    // the next cycle will), so the sequencer found the recording continuing with a call the
    // pending microtask had yet to make (Math.random here), saw no active resources and reported
    // "the program went idle, but the recording continues with event N" (86).
    // What Node really does after the handler: callbacks already due in the same phase (a second
    // timer of the same list, the next immediate) run *before* the drain; otherwise the queues
    // drain first. So "always drain before the next delivery" is as wrong as "never" (the first
    // attempted fix, 4dbeec5, drained first and failed the second scenario): the fix records
    // which happened (the 'sequencer.undrained' marker) and replays the same.
    title: 'after an exception handled by uncaughtException, pending microtasks run in their recorded turn',
    kinds: ['throw-in-callback'],
    program: `process.on('uncaughtException', (err) => console.log('caught', err.message));
// 1. Nothing else due: the microtask runs (and reads Math.random) before any other callback.
setTimeout(() => {
  Promise.resolve().then(() => console.log('microtask after timer throw', Math.random()));
  throw new Error('from a timer');
}, 2);
// 2. Two timers of the same list, due together: the second runs before the first's nextTick.
setTimeout(() => {
  process.nextTick(() => console.log('tick after first timer threw', Math.random()));
  throw new Error('from the first of two timers');
}, 15);
setTimeout(() => console.log('second timer', Math.random()), 15);
// 3. Two immediates: likewise, the second runs before the first's nextTick.
setTimeout(() => {
  setImmediate(() => {
    process.nextTick(() => console.log('tick after immediate threw', Math.random()));
    throw new Error('from an immediate');
  });
  setImmediate(() => console.log('second immediate', Math.random()));
}, 30);
setTimeout(() => console.log('later', Math.random()), 45);
`,
  },
  {
    // FIXED (kept as a regression test: Replayer.afterHandledThrow, src/core/replayer.ts).
    // The bug (src/core/replayer.ts pump, with the 'sequencer.undrained' marker of 688580b): when a
    // nextTick queued by a *timer* callback throws and an 'uncaughtException' handler deals with
    // it, Node runs the next timer already due in the same list before the remaining nextTicks
    // (the recorder writes the marker: the second timer came before the drain). Replay delivers
    // every callback from the sequencer's setImmediate, and after a nextTick throws in the drain
    // that follows an immediate, Node drains the remaining nextTicks before the next immediate
    // (plain Node: setImmediate(() => { nextTick(throw); nextTick(log); setImmediate(next) })
    // prints caught, log, next). So the remaining nextTick runs, its Math.random() meets the
    // marker and replay stops: "the recording has sequencer.undrained() → null; the program
    // attempted random.Math.random()" (86). The sequencer cannot honour the marker from its own
    // immediate; it never gets control between the handler and the drain.
    // The fix: the one JavaScript entry between the 'uncaughtException' listeners and the drain is
    // Node's own `require('timers').setImmediate(noop)` in its exception path, which reaches the
    // patched setImmediate (it is recorded as a request just before the marker). In replay, when
    // that request is followed by the marker, make the marked delivery (the second timer) right
    // there, before returning to Node; otherwise leave the drain to Node.
    title: 'exceptions thrown from nextTicks and microtasks, handled by uncaughtException, replay in order',
    kinds: ['throw-in-tick'],
    program: `process.on('uncaughtException', (err) => console.log('caught', err.message, Math.random()));
setTimeout(() => {
  process.nextTick(() => { throw new Error('from a nextTick'); });
  process.nextTick(() => console.log('tick 2', Math.random()));
  queueMicrotask(() => console.log('microtask 1', Math.random()));
}, 2);
setTimeout(() => {
  queueMicrotask(() => { throw new Error('from a microtask'); });
  queueMicrotask(() => console.log('microtask 2', Math.random()));
  process.nextTick(() => console.log('tick 3', Math.random()));
}, 2);
setTimeout(() => {
  setImmediate(() => {
    Promise.reject(new Error('unhandled rejection, thrown as uncaught'));
    process.nextTick(() => console.log('tick 4', Math.random()));
  });
  setImmediate(() => console.log('immediate', Math.random()));
}, 10);
setTimeout(() => console.log('end', Math.random()), 20);
`,
  },
  {
    // FIXED (kept as a regression test: src/boundary/threadpool.ts computes zlib and
    // pbkdf2/scrypt/hkdf results with their sync forms in replay).
    // The bug, timing-dependent (src/boundary/threadpool.ts replayCallback, src/core/replayer.ts
    // pump): after a delivered callback throws and an 'uncaughtException' handler deals with it,
    // the recording says whether the next delivery came before Node drained the microtasks that
    // callback queued (the 'sequencer.undrained' marker; with nothing else due it is Node's own
    // no-op setImmediate that comes first). Replay honours the marker only from its next pump,
    // a setImmediate in the next check phase. But replay runs threadpool work (pbkdf2, scrypt,
    // hkdf, zlib, Web Crypto) live, and a live job completing in the poll phase in between, at a
    // moment unrelated to the recording, enters JavaScript first: when its callback scope closes
    // Node drains the program's queues, the program's microtask makes its call (Math.random here)
    // and meets the marker: "the recording has sequencer.undrained() → null; the program
    // attempted random.Math.random()" (86). Seen in about 1 in 40 generated programs; this
    // program fails a quarter to half of its replays.
    // The fix: in replay, do not let live work enter JavaScript at uncontrolled moments: compute
    // threadpool results synchronously (zlib's *Sync forms, pbkdf2Sync, scryptSync, hkdfSync;
    // node:crypto equivalents for Web Crypto digest/sign) when the request is made, and deliver
    // them in their recorded turn from the sequencer. That also makes realWork() polling
    // unnecessary. (Flushing the marked delivery from the live completion callback cannot work
    // for zlib: its one-shot callback runs from a nextTick queued behind the program's.)
    title: 'after a handled throw, live threadpool completions do not drain the program\'s queues early',
    kinds: ['throw-in-callback', 'throw-in-tick'],
    rounds: 6,
    program: `import { pbkdf2 } from 'node:crypto';
import * as zlib from 'node:zlib';
process.on('uncaughtException', () => {});
let n = 0;
function step() {
  if (++n > 400) return;
  setImmediate(step);
  Promise.resolve().then(() => Math.random());
  throw new Error('step ' + n);
}
for (let i = 0; i < 24; i++) {
  pbkdf2('pw', 'salt', 2000 * (i + 1), 16, 'sha256', () => console.log('job', i, Math.random()));
  zlib.deflate(Buffer.alloc(50000 * (i + 1), i), (err, out) => console.log('zlib', i, out.length));
}
setImmediate(step);
`,
  },
];

const bugProbes = new Map<KnownBug, { ok: boolean; detail: string }>();
/** Records and replays the bug's program (once per test run); ok when the replay matches. */
function probe(bug: KnownBug): { ok: boolean; detail: string } {
  let result = bugProbes.get(bug);
  if (result) return result;
  const dir = workdir('retrace-determinism-bug-');
  writeFiles(dir, { 'app.mjs': bug.program });
  let detail = '';
  for (let round = 0; round < (bug.rounds ?? 1) && !detail; round++) {
    const rec = record(dir, ['node', 'app.mjs']);
    if (rec.status !== 0) detail = `the recording failed (${dir})\n${describeRun(rec)}`;
    for (let i = 0; i < 2 && !detail; i++) {
      const rep = replay(dir, [], { offline: i === 0 });
      if (!sameRun(rec, rep)) detail = mismatch(`${bug.title} (${dir})`, rec, rep, `recording ${round + 1}, replay ${i + 1}`);
    }
  }
  result = { ok: !detail, detail };
  bugProbes.set(bug, result);
  return result;
}

function generatorOptions(t: TestContext): GeneratorOptions {
  const exclude: string[] = [];
  for (const bug of KNOWN_BUGS) {
    if (probe(bug).ok) continue;
    exclude.push(...bug.kinds);
    t.diagnostic(`known bug, task kinds ${bug.kinds.join(', ')} left out: ${bug.title}`);
  }
  if (FS_READY) t.diagnostic('fs boundary implemented: generated programs include fs reads and writes');
  if (CHILD_PROCESS_READY) t.diagnostic('child-process boundary implemented: generated programs include child processes');
  return { fs: FS_READY, childProcess: CHILD_PROCESS_READY, exclude };
}

function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

function writeGenerated(seed: number, options: GeneratorOptions): { dir: string; kinds: string } {
  const program = generateProgram(seed, options);
  const dir = workdir(`retrace-determinism-${seed}-`);
  writeFiles(dir, { 'app.mjs': program.source });
  return { dir, kinds: [...program.kinds].sort().join(', ') };
}

// ---- generated programs ----

describe('seeded random programs', () => {
  test('the generator is deterministic from its seed', () => {
    for (const seed of SEEDS.slice(0, 3)) {
      const a = generateProgram(seed, { fs: true, childProcess: true });
      const b = generateProgram(seed, { fs: true, childProcess: true });
      assert.equal(a.source, b.source, `seed ${seed}`);
    }
    assert.notEqual(generateProgram(1).source, generateProgram(2).source);
  });

  test('unrecorded runs of the same program follow different schedules (so the replays below can fail)', async (t) => {
    const options = generatorOptions(t);
    let varied = 0;
    const same: number[] = [];
    // The programs mostly wait on their timers: run them all at once.
    const runs = await Promise.all(SEEDS.map(async (seed) => {
      const { dir } = writeGenerated(seed, options);
      // One after the other: a program may write files in its folder.
      const a = await runPlainAsync(dir, ['app.mjs']);
      const b = await runPlainAsync(dir, ['app.mjs']);
      return { seed, dir, a, b };
    }));
    for (const { seed, dir, a, b } of runs) {
      assert.equal(a.status, 0, `seed ${seed} (${dir}): the program runs\n${describeRun(a)}`);
      assert.notEqual(a.stdout, b.stdout, `seed ${seed}: the values observed differ between runs`);
      assert.doesNotMatch(a.stdout, /must-not-fire/, `seed ${seed}: a cleared timer fired`);
      if (schedule(a) !== schedule(b)) varied++;
      else same.push(seed);
      removeDir(dir);
    }
    t.diagnostic(`${varied} of ${SEEDS.length} seeds interleaved differently in two unrecorded runs${same.length ? `; the same for seeds ${same.join(', ')}` : ''}`);
    assert.ok(varied > SEEDS.length / 2, `only ${varied} of ${SEEDS.length} seeds varied their schedule between unrecorded runs`);
  });

  for (const seed of SEEDS) {
    test(`seed ${seed}: the recorded interleaving replays exactly, ${REPLAYS} times`, (t) => {
      const { dir, kinds } = writeGenerated(seed, generatorOptions(t));
      const context = `seed ${seed} (program ${path.join(dir, 'app.mjs')}; tasks: ${kinds})`;
      const rec = recordAndReplay(dir, context);
      assert.doesNotMatch(rec.stdout, /must-not-fire/, `${context}: a cleared timer fired while recording`);
      // The program's own log, printed at exit, agrees with what it printed as it went.
      const incremental = rec.stdout.split('\n').filter((l) => l.startsWith('> ')).map((l) => l.slice(2));
      const atExit = rec.stdout.split(/^=== log: .*$/m)[1]?.trim().split('\n') ?? [];
      assert.deepEqual(atExit, incremental, `${context}: the log printed at exit`);
      removeDir(dir); // kept when the test fails: the message names it
    });
  }
});

describe('known bugs, each isolated (see KNOWN_BUGS)', () => {
  for (const bug of KNOWN_BUGS) {
    test(bug.title, () => {
      const result = probe(bug);
      assert.ok(result.ok, result.detail);
    });
  }
});

// ---- adversarial cases ----

const NOTE = `
const log = [];
function note(...values) {
  const line = values.join(' ');
  log.push(line);
  console.log('> ' + line);
}
const rnd = (n) => Math.floor(Math.random() * n);
`;

test('(a) two timers with the same delay racing a threadpool job, round after round', () => {
  const dir = workdir('retrace-determinism-a-');
  writeFiles(dir, {
    'app.mjs': `import { pbkdf2 } from 'node:crypto';
import * as zlib from 'node:zlib';
${NOTE}
let round = 0;
function go() {
  const r = ++round;
  const delay = 1 + rnd(6);
  let pending = 4;
  const done = () => { if (--pending === 0 && r < 12) go(); };
  setTimeout(() => { note('A', r, delay, Math.random().toFixed(6)); process.nextTick(() => note('A-tick', r)); Promise.resolve().then(() => note('A-micro', r)); done(); }, delay);
  pbkdf2('pw' + r, 'salt', 2000 + rnd(30000), 16, 'sha256', (err, key) => { note('job', r, key.toString('hex').slice(0, 8), Date.now() % 1000); done(); });
  zlib.deflate(Buffer.alloc(rnd(400000), r), (err, out) => { note('zlib', r, out.length); done(); });
  setTimeout(() => { note('B', r, delay, Math.random().toFixed(6)); done(); }, delay);
}
go();
`,
  });
  assert.ok(schedulesVary(dir, 4), 'the race really is a race: unrecorded runs order the job and the timers differently');
  recordAndReplay(dir, `(a) ${dir}`);
});

test('(b) a burst of 200 setImmediate / setTimeout(0) callbacks interleaved with random values', () => {
  const dir = workdir('retrace-determinism-b-');
  writeFiles(dir, {
    'app.mjs': `${NOTE}
for (let i = 0; i < 200; i++) {
  const v = Math.random();
  if (v < 0.5) {
    setImmediate(() => {
      note('imm', i, Math.random().toFixed(6));
      if (i % 5 === 0) setTimeout(() => note('imm-then-timeout', i, Date.now() % 1000), 0);
    });
  } else {
    setTimeout(() => {
      note('t0', i, Math.random().toFixed(6));
      if (i % 5 === 0) setImmediate(() => note('timeout-then-imm', i, performance.now().toFixed(2)));
    }, 0);
  }
  if (i % 7 === 0) process.nextTick(() => note('tick', i));
  if (i % 11 === 0) queueMicrotask(() => note('micro', i, v.toFixed(3)));
  if (i % 50 === 0) for (let k = Date.now(); Date.now() - k < 1 + rnd(2);) {} // let the 1 ms timer threshold pass, or not
}
`,
  });
  recordAndReplay(dir, `(b) ${dir}`);
});

test('(c) concurrent recorded Node child processes, each replayed on its own with --process N', { skip: !CHILD_PROCESS_READY && 'src/boundary/child-process.ts is still a placeholder' }, () => {
  const dir = workdir('retrace-determinism-c-');
  writeFiles(dir, {
    'child.mjs': `const k = process.argv[2];
setTimeout(() => {
  console.log('child', k, Math.random().toFixed(8));
  setTimeout(() => console.log('child', k, 'done', Date.now() % 100000), Math.floor(Math.random() * 10));
}, Math.floor(Math.random() * 25));
`,
    'app.mjs': `import { execFile, spawn } from 'node:child_process';
${NOTE}
let left = 4;
for (let k = 0; k < 4; k++) {
  if (k % 2 === 0) {
    execFile(process.execPath, ['child.mjs', String(k)], (err, stdout) => {
      note('exec', k, err?.code ?? 'ok', JSON.stringify(stdout), Math.random().toFixed(6));
      if (--left === 0) note('all done');
    });
  } else {
    const child = spawn(process.execPath, ['child.mjs', String(k)]);
    let out = '';
    child.stdout.on('data', (d) => { out += d; note('data', k, JSON.stringify(String(d))); });
    child.on('close', (code) => { note('close', k, code, JSON.stringify(out)); if (--left === 0) note('all done'); });
  }
}
setTimeout(() => note('parent timer', Math.random().toFixed(6)), 10);
`,
  });
  assert.ok(schedulesVary(dir, 4, (r) => r.stdout.replace(/[\d.]+/g, '#')), 'the children finish in a different order from run to run');
  const rec = recordAndReplay(dir, `(c) ${dir}`);
  const processes = JSON.parse(retrace(dir, ['info', '--json']).stdout) as { process: number; parent: number | null; command: string }[];
  const root = processes.find((p) => /app\.mjs/.test(p.command));
  const children = processes.filter((p) => /child\.mjs/.test(p.command));
  assert.equal(children.length, 4, JSON.stringify(processes));
  for (const child of children) assert.equal(child.parent, root?.process, `process ${child.process} names its recorded parent`);
  for (const child of children) {
    const k = /child\.mjs (\d)/.exec(child.command)?.[1];
    assert.ok(k !== undefined, child.command);
    const childRec = { status: 0, signal: null, stdout: '', stderr: '' } as Run;
    // What the parent received from child k is what the child printed while recorded.
    const exec = new RegExp(`^> exec ${k} ok (".*") `, 'm').exec(rec.stdout);
    const close = new RegExp(`^> close ${k} 0 (".*")$`, 'm').exec(rec.stdout);
    childRec.stdout = JSON.parse((exec ?? close)![1]!) as string;
    assertReplaysMatch(dir, childRec, `(c) child ${k} (process ${child.process})`, { args: ['--process', String(child.process)], times: 2 });
  }
});

test('(d) an uncaught exception thrown from a timer after some work ends the replay the same way (status 1)', () => {
  const dir = workdir('retrace-determinism-d-');
  writeFiles(dir, {
    'app.mjs': `import { pbkdf2 } from 'node:crypto';
${NOTE}
let ticks = 0;
const iv = setInterval(() => note('tick', ++ticks, Math.random().toFixed(6)), 1);
pbkdf2('pw', 'salt', 5000 + rnd(20000), 16, 'sha256', (err, key) => note('job', key.toString('hex').slice(0, 8)));
setImmediate(() => note('immediate', Date.now() % 1000));
setTimeout(() => {
  note('about to throw after', ticks, 'ticks');
  process.nextTick(() => note('tick queued before the throw'));
  throw new Error('boom ' + Math.random());
}, 5 + rnd(10));
setTimeout(() => note('never', clearInterval(iv)), 200);
process.on('exit', (code) => console.log('exit', code, log.length));
`,
  });
  const rec = recordAndReplay(dir, `(d) ${dir}`, 1);
  const boom = /Error: boom [\d.]+/.exec(rec.stderr)?.[0];
  assert.ok(boom, rec.stderr);
  const rep = replay(dir);
  assert.equal(rep.status, 1, describeRun(rep));
  assert.ok(rep.stderr.includes(boom), `the replay throws the recorded error (${boom}):\n${rep.stderr}`);
});

test('(d2) an exception swallowed by an uncaughtException handler, then a normal exit', () => {
  // Regression test; FIXED in fbd3b83. The bug (src/boundary/process.ts, installEvents): the
  // 'uncaughtExceptionMonitor' listener set `uncaught = true` for every uncaught exception,
  // including those an 'uncaughtException' handler deals with. The process then exits normally but its end event says reason
  // 'uncaught'; replay reaches that end event from the sequencer and stops with "the recorded
  // process ended with an uncaught exception here, but the replay did not throw it" (status 86).
  const dir = workdir('retrace-determinism-d2-');
  writeFiles(dir, {
    'app.mjs': `${NOTE}
process.on('uncaughtException', (err) => note('handled', err.message));
setTimeout(() => { note('throwing'); throw new Error('swallowed ' + Math.random()); }, rnd(5));
setTimeout(() => note('still running', Math.random().toFixed(6)), 6);
`,
  });
  recordAndReplay(dir, `(d2) ${dir}`);

  // The same with process.setUncaughtExceptionCaptureCallback, which Node calls instead of
  // emitting 'uncaughtException' (the monitor still sees the exception).
  const captured = workdir('retrace-determinism-d2-');
  writeFiles(captured, {
    'app.mjs': `${NOTE}
process.setUncaughtExceptionCaptureCallback((err) => note('captured', err.message));
setTimeout(() => { note('throwing'); throw new Error('captured ' + Math.random()); }, rnd(5));
setTimeout(() => note('still running', Math.random().toFixed(6)), 6);
`,
  });
  recordAndReplay(captured, `(d2, capture callback) ${captured}`);
});

test('(e) process.exit(5) from inside a promise continuation', () => {
  const dir = workdir('retrace-determinism-e-');
  writeFiles(dir, {
    'app.mjs': `import { setTimeout as sleep } from 'node:timers/promises';
${NOTE}
const iv = setInterval(() => note('tick', Math.random().toFixed(6)), 1);
(async () => {
  await sleep(5 + rnd(10));
  const x = await Promise.resolve(Math.random());
  note('continuation', x.toFixed(6));
  setTimeout(() => note('never'), 0);
  Promise.resolve().then(() => { note('exiting', Date.now() % 1000); process.exit(5); note('not reached'); });
})();
process.on('exit', (code) => { console.log('exit', code, log.length); clearInterval(iv); });
`,
  });
  recordAndReplay(dir, `(e) ${dir}`, 5);
});

test('(f) an unhandledRejection handler and a beforeExit handler that schedules more work once', () => {
  const dir = workdir('retrace-determinism-f-');
  writeFiles(dir, {
    'app.mjs': `import { setTimeout as sleep } from 'node:timers/promises';
${NOTE}
process.on('unhandledRejection', (reason) => {
  note('unhandled', reason.message);
  setTimeout(() => note('after unhandled', Math.random().toFixed(6)), rnd(5));
});
let rounds = 0;
process.on('beforeExit', (code) => {
  note('beforeExit', code, ++rounds, Date.now() % 100000);
  if (rounds === 1) {
    setTimeout(() => { note('more work', Math.random().toFixed(6)); Promise.reject(new Error('late ' + rnd(1000))); }, rnd(5));
    setImmediate(() => note('immediate from beforeExit', Math.random().toFixed(6)));
  }
});
Promise.reject(new Error('early ' + rnd(1000)));
(async () => { await sleep(rnd(5)); throw new Error('async ' + rnd(1000)); })();
setTimeout(() => note('timer', Math.random().toFixed(6)), rnd(5));
process.on('exit', (code) => console.log('exit', code, rounds, log.length));
`,
  });
  const rec = recordAndReplay(dir, `(f) ${dir}`);
  assert.match(rec.stdout, /> beforeExit 0 2 /, 'beforeExit ran again after the extra work');
});

test('(g1) SIGTERM to itself without a handler: replay ends with the recorded signal death (128+15)', () => {
  // Regression test; FIXED in fbd3b83. The bug (src/boundary/process.ts, the process.end handler
  // in installEvents): to end the replay the way the recording ended, it called
  // real.processKill(process.pid, signal), but in replay
  // process.pid has been replaced by the *recorded* pid (installIdentity). The kill goes to a
  // process that no longer exists (ESRCH: the replay crashes with status 1 instead of dying by
  // SIGTERM) or, if the pid was reused, to an unrelated process on the machine.
  const dir = workdir('retrace-determinism-g1-');
  writeFiles(dir, {
    'app.mjs': `import { pbkdf2 } from 'node:crypto';
${NOTE}
pbkdf2('pw', 'salt', 2000 + rnd(20000), 16, 'sha256', () => note('job', Math.random().toFixed(6)));
setInterval(() => note('tick', Math.random().toFixed(6)), 2);
setTimeout(() => {
  note('sending SIGTERM', Date.now() % 1000);
  process.kill(process.pid, 'SIGTERM');
  note('sent', Math.random().toFixed(6));
}, 3 + rnd(8));
process.on('exit', (code) => console.log('exit', code)); // not reached: the signal kills the process
`,
  });
  const rec = recordAndReplay(dir, `(g1) ${dir}`, 128 + 15);
  assert.doesNotMatch(rec.stdout, /^exit/m);
});

test('(g2) SIGTERM to itself with a handler: the handler runs at its recorded turn', () => {
  const dir = workdir('retrace-determinism-g2-');
  writeFiles(dir, {
    'app.mjs': `${NOTE}
let ticks = 0;
const iv = setInterval(() => note('tick', ++ticks, Math.random().toFixed(6)), 1);
process.on('SIGTERM', (signal) => {
  note('got', signal, 'after', ticks, 'ticks', Math.random().toFixed(6));
  setTimeout(() => { note('cleanup', Date.now() % 1000); clearInterval(iv); process.exitCode = 3; }, rnd(5));
});
setTimeout(() => { note('sending'); process.kill(process.pid, 'SIGTERM'); note('sent'); }, 2 + rnd(8));
process.on('exit', (code) => console.log('exit', code, log.length));
`,
  });
  const rec = recordAndReplay(dir, `(g2) ${dir}`, 3);
  assert.match(rec.stdout, /> got SIGTERM after \d+ ticks/);
});

test('(h) AbortSignal.timeout racing timers of the same delay', () => {
  // Regression test; FIXED in fbd3b83. The bug (src/boundary/timers.ts): AbortSignal.timeout() is
  // created in Node's
  // lib/internal/abort_controller.js with the setTimeout it captured from 'timers' at bootstrap,
  // so the patched timers never see it. Its firing is not recorded; in replay the real (unref'd)
  // timer is not counted as work, so the sequencer reports the program idle ("the program went
  // idle, but the recording continues with ...") — and even if it waited, the abort would land at
  // a wall-clock time, not its recorded turn among the other callbacks.
  const dir = workdir('retrace-determinism-h-');
  writeFiles(dir, {
    'app.mjs': `import { setTimeout as sleep } from 'node:timers/promises';
${NOTE}
const d = 2 + rnd(6);
const signal = AbortSignal.timeout(d);
signal.addEventListener('abort', () => note('aborted', signal.reason.name, Math.random().toFixed(6)));
setTimeout(() => note('timer', d, Math.random().toFixed(6)), d);
sleep(30, null, { signal: AbortSignal.timeout(rnd(40)) }).then(() => note('slept'), (err) => note('sleep aborted', err.name));
setTimeout(() => note('late', Date.now() % 1000), 45);
`,
  });
  recordAndReplay(dir, `(h) ${dir}`);
});

test('(i) timer objects: refresh, unref, numeric ids, clearing from other callbacks', () => {
  // The timer cleared by its number from an immediate is due in 300 ms: with 8 ms it fired first,
  // unrecorded too, whenever the machine was loaded enough for the first loop turn to start late.
  const dir = workdir('retrace-determinism-i-');
  writeFiles(dir, {
    'app.mjs': `import { promisify } from 'node:util';
import { scheduler } from 'node:timers/promises';
${NOTE}
const t = setTimeout(() => note('refreshed timer', Math.random().toFixed(6)), 4);
setTimeout(() => { t.refresh(); note('refresh', Date.now() % 1000); }, 2);
const id = +setTimeout(() => note('cleared by number: must not fire'), 300);
setImmediate(() => { clearTimeout(id); note('cleared', typeof id); });
setTimeout(() => note('unref never fires'), 500).unref();
const iv = setInterval(() => note('interval', Math.random().toFixed(6)), 1);
setTimeout(() => clearInterval(iv), rnd(12));
promisify(setTimeout)(rnd(6), 'v').then((v) => note('promisified', v, Math.random().toFixed(6)));
promisify(setImmediate)('w').then((v) => note('promisified immediate', v));
scheduler.wait(rnd(6)).then(() => note('scheduler.wait', performance.now().toFixed(2)));
scheduler.yield().then(() => note('scheduler.yield'));
`,
  });
  const rec = recordAndReplay(dir, `(i) ${dir}`);
  assert.doesNotMatch(rec.stdout, /must not fire|never fires/);
});

test('(j) exit listeners that read the clock and random values when the process runs out of work', () => {
  // Found by this test; FIXED (the 'process.exiting' marker). The bug (src/boundary/process.ts, the 'exit' branch of the patched
  // process.emit, and the
  // process.end handler): while recording, a natural exit runs the 'exit' listeners first (their
  // Date.now/Math.random readings are recorded) and writes process.end after them. Replay only
  // starts the exit when the sequencer reaches process.end (the handler calls process.exit), so
  // it first meets the listeners' events while the program is idle and reports "the program went
  // idle, but the recording continues with event N: random.Math.random()" (86).
  // Fix: record a marker for the start of a natural exit (e.g. an unsolicited 'process.exiting'
  // value with the code, written before the listeners run) whose replay handler calls
  // process.exit(code), so the listeners consume their recorded events and checkEnd then finds
  // process.end.
  const dir = workdir('retrace-determinism-j-');
  writeFiles(dir, {
    'app.mjs': `${NOTE}
const started = Date.now();
setTimeout(() => note('timer', Math.random().toFixed(6)), rnd(5));
process.on('exit', (code) => console.log('exit', code, 'after', Date.now() - started, 'ms', Math.random().toFixed(6)));
`,
  });
  recordAndReplay(dir, `(j) ${dir}`);
});

test('(k) in-process MessageChannel messages interleaved with timers and immediates', () => {
  // Found by this test; FIXED (src/boundary/workers.ts sequences MessageChannel ports). The bug:
  // a MessagePort's 'message' event is an entry into JavaScript from the event
  // loop (Node's messaging layer, not a timer), so the recording does not note its turn. In
  // replay the port delivers as soon as the message is posted, in real time, while the
  // sequencer delivers the recorded timers and immediates at its own pace: the first message
  // arrives before the immediates it followed in the recording and its Math.random() diverges
  // ("the recording has callback for request 3 with null; the program attempted
  // random.Math.random()").
  // The fix: sequence MessagePort deliveries like threadpool results: the messages are
  // deterministic, only their turn is not. Record each dispatch of a port's 'message' event as
  // a delivery (a request per port, opened when it starts listening); in replay let the real
  // message arrive, then hold its dispatch until its recorded turn (engine.expect on arrival).
  const dir = workdir('retrace-determinism-k-');
  writeFiles(dir, {
    'app.mjs': `${NOTE}
const { port1, port2 } = new MessageChannel();
let received = 0;
port1.on('message', (m) => {
  note('message', m, Math.random().toFixed(6));
  if (++received === 5) port1.close();
});
for (let i = 0; i < 5; i++) {
  setImmediate(() => { note('immediate', i, Math.random().toFixed(6)); port2.postMessage(i); });
  setTimeout(() => note('timeout', i, Math.random().toFixed(6)), i);
}
`,
  });
  recordAndReplay(dir, `(k) ${dir}`);
});

/** `retrace <args>` in dir with its stdout read by a slow consumer (`| (sleep; cat)`), as in `retrace replay | less`. */
function throughSlowPipe(dir: string, args: string[]): { stdout: string; status: number } {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
  for (const key of Object.keys(env)) if (key.startsWith('RETRACE_')) delete env[key];
  delete env.NODE_TEST_CONTEXT;
  const quoted = [process.execPath, cli, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const statusFile = path.join(dir, '.status');
  const r = spawnSync('sh', ['-c', `{ ${quoted} 2>/dev/null; echo $? > .status; } | (sleep 0.5; cat)`], { cwd: dir, env, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  const status = Number(fs.readFileSync(statusFile, 'utf8'));
  return { stdout: r.stdout, status };
}

test('(l) a program that prints a lot and runs out of work: all of its output is replayed, even into a slow pipe', () => {
  // Found by this test; FIXED (src/boundary/process.ts exitOnceOutputIsWritten). The bug
  // (src/boundary/process.ts, the 'process.exiting' and
  // 'process.end' handlers in installEvents): when the recording says the program ran out of
  // work, replay ends it with process.exit(code). The recorded program exited naturally, and a
  // natural exit waits for pending asynchronous writes; process.exit() does not. stdout into a
  // pipe is asynchronous once the pipe is full (64 KiB, less under pipe-user-pages-soft), so
  // whatever the reader had not yet taken is lost: here the recording prints ~250 KB and the
  // replay ~64 KB, with exit status 0 and no message. In the test suite it shows as a rare
  // truncated replay (seen on test (b) under Node 22, about 1 replay in 60).
  // The fix considered: end a replayed natural exit naturally: on 'process.exiting', stop the sequencer and
  // set process.exitCode, and let Node's loop drain (pending writes) and emit 'exit' itself (the
  // patched emit must then not expect another recorded 'beforeExit'); or at least wait for
  // process.stdout/stderr writableLength to reach 0 ('drain') before calling process.exit.
  const dir = workdir('retrace-determinism-l-');
  writeFiles(dir, {
    'app.mjs': `setTimeout(() => {
  for (let i = 0; i < 5000; i++) console.log('line', i, 'x'.repeat(40));
  console.log('last', Math.random());
}, 2);
`,
  });
  const rec = throughSlowPipe(dir, ['record', '--force', '--out', 'recording', '--', 'node', 'app.mjs']);
  assert.equal(rec.status, 0);
  assert.match(rec.stdout, /^last 0\.\d+$/m, 'the recording printed everything');
  for (let i = 0; i < 2; i++) {
    const rep = throughSlowPipe(dir, ['replay']);
    assert.equal(rep.status, 0);
    assert.ok(rep.stdout === rec.stdout, `replay ${i + 1} printed ${rep.stdout.length} of the ${rec.stdout.length} bytes the recording printed; ${firstDifference(rec.stdout, rep.stdout)}`);
  }
});
