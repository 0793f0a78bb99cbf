// retrace info: what a recording holds.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UNENCODABLE_CHANNEL } from '../core/recorder.js';
import { fileURLToPath } from 'node:url';
import { addonName } from '../boundary/addons.js';
import { TraceFile } from '../core/trace/reader.js';
import { listTraces } from './recording.js';
import { ChildCollector, linkChildren, type ChildInfo } from './children.js';
import { testFilesByProcess } from './tests.js';

export interface ProcessInfo {
  process: number;
  parent: number | null;
  pid: number;
  ppid: number;
  command: string;
  cwd: string;
  nodeVersion: string;
  platform: string;
  started: string;
  durationMs: number | null;
  end: string;
  bytes: number;
  events: number;
  eventsByKind: Record<string, number>;
  /** The processes it started, and the recorded process each became. */
  children: ChildInfo[];
  /** Test files this process ran (a test runner's worker or per-file process). */
  testFiles?: string[];
  /** The native addons (`.node` files) it loaded: their package and file. */
  addons: { name: string; file: string }[];
  problem?: string;
}

export function info(location: string): ProcessInfo[] {
  const tests = testFilesByProcess(location);
  const processes = listTraces(location).map((ref): ProcessInfo => {
    const trace = TraceFile.open(ref.file);
    const h = trace.header;
    const eventsByKind: Record<string, number> = {};
    let events = 0;
    let problem: string | undefined;
    const children = new ChildCollector();
    const unencodable: string[] = [];
    try {
      for (const ev of trace.events()) {
        children.note(ev);
        if (ev.kind === 'value' && ev.channel.name === UNENCODABLE_CHANNEL) unencodable.push(String(ev.value));
        const kind = ev.kind === 'deliver' ? 'callback' : ev.channel.name;
        eventsByKind[kind] = (eventsByKind[kind] ?? 0) + 1;
        events++;
      }
    } catch (err) {
      problem = `events after ${events} cannot be decoded: ${(err as Error).message}`;
    }
    const end = trace.end;
    if (unencodable.length > 0) {
      const more = unencodable.length > 3 ? ` (and ${unencodable.length - 3} more)` : '';
      problem = [problem, `${unencodable.length} event${unencodable.length === 1 ? '' : 's'} could not be encoded, and replay stops at the first: ${unencodable.slice(0, 3).join('; ')}${more}`].filter(Boolean).join('; ');
    }
    return {
      process: h.process,
      parent: h.parent,
      pid: h.pid,
      ppid: h.ppid,
      command: [path.basename(h.argv[0] ?? 'node'), ...h.execArgv, ...h.argv.slice(1)].join(' '),
      cwd: h.cwd,
      nodeVersion: h.nodeVersion,
      platform: `${h.platform}-${h.arch}`,
      started: new Date(h.startTime).toISOString(),
      durationMs: end ? end.endTime - h.startTime : null,
      end: end?.reason === 'stopped' ? `truncated (${trace.truncation})` : end ? (end.signal ? `killed by ${end.signal}` : `exit status ${end.exitCode}`) : `truncated (${trace.truncation})`,
      bytes: fs.statSync(ref.file).size,
      events,
      eventsByKind,
      children: children.children,
      ...(tests.has(h.process) ? { testFiles: tests.get(h.process) } : {}),
      addons: nativeAddons(trace),
      ...(problem ? { problem } : {}),
    };
  });
  linkChildren(processes);
  return processes;
}

export function formatInfo(processes: ProcessInfo[]): string {
  const lines: string[] = [];
  for (const p of processes) {
    lines.push(`process ${p.process}${p.parent === null ? '' : ` (child of ${p.parent})`}: ${p.command}`);
    lines.push(`  pid ${p.pid}, cwd ${p.cwd}, Node.js ${p.nodeVersion} on ${p.platform}`);
    lines.push(`  started ${p.started}, ran ${p.durationMs === null ? 'unknown' : `${p.durationMs} ms`}, ${p.end}`);
    lines.push(`  ${p.events} events, ${formatBytes(p.bytes)}`);
    for (const [kind, n] of Object.entries(p.eventsByKind).sort((a, b) => b[1] - a[1])) {
      lines.push(`    ${String(n).padStart(8)}  ${kind}`);
    }
    if (p.children.length > 0) {
      lines.push(`  child processes:`);
      for (const c of p.children) {
        const recorded = c.processes.length === 0 ? '' : ` → process${c.processes.length > 1 ? 'es' : ''} ${c.processes.join(', ')}`;
        lines.push(`    ${c.pid === null ? 'no pid' : `pid ${c.pid}`}${recorded}: ${c.command}${c.sync ? ' (sync)' : ''}, ${c.end}`);
      }
    }
    if (p.testFiles) lines.push(`  ran test file${p.testFiles.length === 1 ? '' : 's'}: ${p.testFiles.join(', ')}`);
    if (p.addons.length > 0) {
      lines.push(`  native addons (no boundary: a replay runs them live):`);
      for (const a of p.addons) lines.push(`    ${a.name}: ${a.file}`);
    }
    if (p.problem) lines.push(`  problem: ${p.problem}`);
  }
  return lines.join('\n');
}

/** The `.node` files among what the process loaded, once each. */
function nativeAddons(trace: TraceFile): { name: string; file: string }[] {
  const files = new Set<string>();
  for (const m of trace.dependencies) {
    if (!m.url.startsWith('file:') || !m.url.endsWith('.node')) continue;
    files.add(fileURLToPath(m.url));
  }
  return [...files].map((file) => ({ name: addonName(file), file }));
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
