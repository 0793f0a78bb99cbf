// Finding the traces of a recording folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TRACE_FILE_PATTERN } from '../runtime/paths.js';
import { TraceError, TraceFile } from '../core/trace/reader.js';
import { isPack, openPack } from './pack.js';

export class UsageError extends Error {}

export interface TraceRef {
  process: number;
  file: string;
}

/** The trace files of a recording: DIR holding p<N>.rtrc files, or one trace file. */
export function listTraces(location: string): TraceRef[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(location);
  } catch {
    throw new TraceError(`no recording at ${location}`);
  }
  if (stat.isFile() && isPack(location)) return listTraces(openPack(location).recording);
  if (stat.isFile()) {
    const m = TRACE_FILE_PATTERN.exec(path.basename(location));
    return [{ process: m ? Number(m[1]) : 0, file: location }];
  }
  const refs = fs
    .readdirSync(location)
    .map((name) => ({ name, m: TRACE_FILE_PATTERN.exec(name) }))
    .filter((e) => e.m)
    .map((e) => ({ process: Number(e.m![1]), file: path.join(location, e.name) }))
    .sort((a, b) => a.process - b.process);
  if (refs.length === 0) throw new TraceError(`${location} holds no recording (no p<N>.rtrc files)`);
  return refs;
}

/**
 * The project folder a replay of `location` runs in: for a pack, its snapshot of the project
 * (extracted to the cache); otherwise the current folder, the project's checkout.
 */
export function projectRootFor(location: string): string {
  return isPack(location) ? openPack(location).projectRoot : process.cwd();
}

/** The process to replay by default: the first one whose parent was not recorded. */
export function rootProcess(refs: TraceRef[]): TraceRef {
  for (const ref of refs) {
    try {
      if (TraceFile.open(ref.file).header.parent === null) return ref;
    } catch {
      // an unreadable trace cannot be the root; `info` reports it
    }
  }
  return refs[0]!;
}

export function hasRecording(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((n) => TRACE_FILE_PATTERN.test(n));
  } catch {
    return false;
  }
}
