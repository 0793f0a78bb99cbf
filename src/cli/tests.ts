// Which recorded process ran which test: for `retrace info`, `retrace show` and `replay --test`.
//
// Test runners run test files in processes of their own (node --test: one per file; jest and
// mocha --parallel: a pool of workers; vitest: forks) and say what they ran in what those processes
// send or read: a test file's path in its argv (node --test) or in what it reads (jest's workers),
// test and file names in its IPC messages (jest, vitest, mocha's workers), and in the output a
// node --test child writes to its parent (recorded by the parent as that child's stdout). The
// evidence of each process is every string it holds in those places; a test belongs to the
// deepest process whose evidence names it (the runner names every file too, when it hands them out).
import * as path from 'node:path';
import { TraceFile, type TraceEvent } from '../core/trace/reader.js';
import { SEND_CHANNEL, SPAWN_CHANNEL, STARTED_CHANNEL, STDIO_CHANNEL } from '../boundary/child-process-events.js';
import { listTraces, UsageError } from './recording.js';

const TEST_FILE = /(^|[\\/])([^\\/\s"'`]+\.(test|spec)\.[cm]?[jt]sx?)$|[\\/](test|tests|__tests__|spec)[\\/][^\\/\s"'`]+\.[cm]?[jt]sx?$/;
const FILE_READS = /^fs\.(promises\.)?(readFile|readFileSync)$/;

interface ProcessEvidence {
  process: number;
  parent: number | null;
  pid: number;
  cwd: string;
  /** Everything this process named: argv, IPC messages, files it read, output it wrote to its parent. */
  texts: string[];
}

/** Strings held in a decoded value (Buffers read as UTF-8: v8-serialized messages keep ASCII text as it is). */
function collectStrings(v: unknown, out: string[], depth = 0): void {
  if (depth > 20 || v === null || v === undefined) return;
  if (typeof v === 'string') out.push(v);
  else if (Buffer.isBuffer(v)) out.push(v.toString('utf8'));
  else if (Array.isArray(v)) for (const x of v) collectStrings(x, out, depth + 1);
  else if (v instanceof Map) for (const [k, x] of v) (collectStrings(k, out, depth + 1), collectStrings(x, out, depth + 1));
  else if (typeof v === 'object') for (const x of Object.values(v as object)) collectStrings(x, out, depth + 1);
}

function evidence(location: string): ProcessEvidence[] {
  const all: ProcessEvidence[] = [];
  /** Output of children, by the child's pid, seen in the parent's trace. */
  const childOutput = new Map<number, string[]>();
  for (const ref of listTraces(location)) {
    let trace: TraceFile;
    try {
      trace = TraceFile.open(ref.file);
    } catch {
      continue;
    }
    const h = trace.header;
    // argv, and the program's own modules it loaded (mocha and node --test load test files so)
    const texts: string[] = [...h.argv.slice(1), ...trace.modules.map((m) => m.url.replace(/^file:\/\//, ''))];
    const stdioOf = new Map<number, number>(); // stdio request id → spawn request id
    const pidOf = new Map<number, number>(); // spawn request id → pid
    try {
      for (const ev of trace.events()) noteEvent(ev, texts, stdioOf, pidOf, childOutput);
    } catch {
      // a trace that cannot be read to its end: what was read still counts
    }
    all.push({ process: h.process, parent: h.parent, pid: h.pid, cwd: h.cwd, texts });
  }
  for (const p of all) p.texts.push(...(childOutput.get(p.pid) ?? []));
  return all;
}

function noteEvent(ev: TraceEvent, texts: string[], stdioOf: Map<number, number>, pidOf: Map<number, number>, childOutput: Map<number, string[]>): void {
  if (ev.kind === 'deliver') {
    const child = stdioOf.get(ev.reqId);
    if (child === undefined) return;
    const pid = pidOf.get(child);
    if (pid === undefined) return;
    const out = childOutput.get(pid) ?? [];
    collectStrings(ev.payload, out);
    childOutput.set(pid, out);
    return;
  }
  if (ev.kind === 'value') return;
  const name = ev.channel.name;
  if (ev.kind === 'request' && name === STDIO_CHANNEL) {
    stdioOf.set(ev.reqId, (ev.args as number[])[0]!);
  } else if (ev.kind === 'call' && name === STARTED_CHANNEL) {
    const pid = (ev.result as { pid?: number } | null)?.pid;
    if (typeof pid === 'number') pidOf.set((ev.args as number[])[0]!, pid);
  } else if (ev.kind === 'request' && name === SPAWN_CHANNEL) {
    // the files a runner hands to a child count as the runner's too: the deepest process wins
  } else if (name === 'process.send' || name === SEND_CHANNEL) {
    collectStrings(ev.args, texts);
  } else if (FILE_READS.test(name)) {
    const first = (ev.args as unknown[])[0];
    if (typeof first === 'string') texts.push(first);
  }
}

/** Test files each process ran: named in its evidence and not run by a process below it. */
export function testFilesByProcess(location: string): Map<number, string[]> {
  const all = evidence(location);
  const root = all.find((p) => p.parent === null) ?? all[0];
  const named = new Map<number, Set<string>>();
  for (const p of all) {
    const files = new Set<string>();
    for (const text of p.texts) {
      for (const piece of text.split(/[\s"'`()\[\]{},;\u0000-\u001f]+/)) {
        // a glob the runner was given is not a file; a dotfile is configuration probed for
        if (!TEST_FILE.test(piece) || /[*?]/.test(piece) || path.basename(piece).startsWith('.')) continue;
        const abs = path.isAbsolute(piece) ? piece : path.resolve(p.cwd, piece);
        // a module id relative to a bundler's root (`/test/a.test.js`) rather than a path
        if (root && path.isAbsolute(piece) && !abs.startsWith(root.cwd + path.sep)) continue;
        files.add(root ? path.relative(root.cwd, abs) || abs : abs);
      }
    }
    named.set(p.process, files);
  }
  const out = new Map<number, string[]>();
  for (const p of all) {
    const below = descendants(all, p.process);
    const files = [...named.get(p.process)!].filter((f) => !below.some((d) => named.get(d)!.has(f)));
    if (files.length > 0) out.set(p.process, files.sort());
  }
  return out;
}

function descendants(all: ProcessEvidence[], process: number): number[] {
  const out: number[] = [];
  const walk = (n: number) => {
    for (const p of all) if (p.parent === n) (out.push(p.process), walk(p.process));
  };
  walk(process);
  return out;
}

/**
 * The recorded process that ran a test: NAME is a test file (a path, as given or relative to the
 * recorded folder) or a test's name. The deepest process naming it; the first of several.
 */
export function processForTest(location: string, name: string): { process: number; others: number[] } {
  const all = evidence(location);
  const byFile = testFilesByProcess(location);
  const asFile = [...byFile].filter(([, files]) => files.some((f) => f === name || f === path.normalize(name) || f.endsWith(path.sep + name) || name.endsWith(path.sep + f)));
  // Several processes may name a file (jest's haste-map worker read it too): the one that names it
  // most ran it (its results name it again and again).
  const mentions = (p: number) => {
    const base = path.basename(name);
    return all.find((e) => e.process === p)!.texts.reduce((n, t) => n + t.split(base).length - 1, 0);
  };
  let matches = asFile.map(([p]) => p).sort((a, b) => mentions(b) - mentions(a) || a - b);
  if (matches.length > 0) return { process: matches[0]!, others: matches.slice(1) };
  if (matches.length === 0) {
    const naming = all.filter((p) => p.texts.some((t) => t.includes(name))).map((p) => p.process);
    matches = naming.filter((p) => !descendants(all, p).some((d) => naming.includes(d)));
  }
  if (matches.length === 0) {
    // Names a runner only printed (mocha run serially writes them to its own stdout): the one
    // process that ran test files ran this one too.
    const ranTests = [...byFile.keys()];
    if (ranTests.length === 1) matches = ranTests;
    else if (all.length === 1) matches = [all[0]!.process];
  }
  if (matches.length === 0) {
    throw new UsageError(`no recorded process ran a test named "${name}" (retrace info lists the test files each process ran)`);
  }
  const [first, ...others] = matches.sort((a, b) => a - b);
  return { process: first!, others };
}
