// retrace prune: retention for recordings. Deletes whole recordings (their p<N>.rtrc files, then
// the folder when nothing else is in it), oldest first, by age and by total size; never any other file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TRACE_FILE_PATTERN } from '../runtime/paths.js';
import { UsageError } from './recording.js';

/** A recording still written to this recently is left alone. */
const ACTIVE_MS = 60_000;

interface Found {
  dir: string;
  files: string[];
  bytes: number;
  /** The last write to any of its traces (ms since the epoch). */
  mtime: number;
}

function recordingAt(dir: string): Found | null {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return null;
  }
  const files = names.filter((n) => TRACE_FILE_PATTERN.test(n)).map((n) => path.join(dir, n));
  if (files.length === 0) return null;
  let bytes = 0;
  let mtime = 0;
  for (const f of files) {
    const st = fs.statSync(f);
    bytes += st.size;
    mtime = Math.max(mtime, st.mtimeMs);
  }
  return { dir, files, bytes, mtime };
}

function findRecordings(root: string): Found[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new UsageError(`no folder at ${root}`);
  }
  if (!stat.isDirectory()) throw new UsageError(`${root} is not a folder`);
  const self = recordingAt(root);
  if (self) return [self];
  const found: Found[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const r = recordingAt(path.join(root, entry.name));
    if (r) found.push(r);
  }
  return found;
}

function describe(r: Found, now: number): string {
  const age = now - r.mtime;
  const ageText = age >= 86_400_000 ? `${(age / 86_400_000).toFixed(1)} days` : age >= 3_600_000 ? `${(age / 3_600_000).toFixed(1)} hours` : `${Math.round(age / 60_000)} minutes`;
  return `${r.dir} (${r.files.length} process${r.files.length === 1 ? '' : 'es'}, ${(r.bytes / 1024 / 1024).toFixed(1)} MiB, last written ${ageText} ago)`;
}

export interface PruneOptions {
  dirs: string[];
  olderThanMs?: number;
  maxTotalBytes?: number;
  dryRun: boolean;
}

export async function prune(o: PruneOptions): Promise<number> {
  const { dirs, olderThanMs: olderThan, maxTotalBytes: maxTotal, dryRun } = o;
  if (dirs.length === 0) throw new UsageError('prune needs at least one folder: retrace prune --older-than 7d recordings/');
  if (olderThan === undefined && maxTotal === undefined) throw new UsageError('prune needs --older-than AGE, --max-total SIZE or both');

  const now = Date.now();
  const all = dirs.flatMap(findRecordings).sort((a, b) => a.mtime - b.mtime);
  const doomed = new Set<Found>();
  if (olderThan !== undefined) for (const r of all) if (now - r.mtime > olderThan) doomed.add(r);
  if (maxTotal !== undefined) {
    let total = all.filter((r) => !doomed.has(r)).reduce((s, r) => s + r.bytes, 0);
    for (const r of all) {
      if (total <= maxTotal) break;
      if (doomed.has(r)) continue;
      doomed.add(r);
      total -= r.bytes;
    }
  }
  let deleted = 0;
  let kept = 0;
  for (const r of all) {
    if (!doomed.has(r)) continue;
    if (now - r.mtime < ACTIVE_MS) {
      process.stderr.write(`retrace: kept ${r.dir}: written to in the last minute (it may still be recording)\n`);
      kept++;
      continue;
    }
    if (!dryRun) {
      for (const f of r.files) fs.rmSync(f, { force: true });
      try {
        fs.rmdirSync(r.dir);
      } catch {
        // other files are in it: they are not ours to delete
      }
    }
    process.stdout.write(`${dryRun ? 'would delete' : 'deleted'} ${describe(r, now)}\n`);
    deleted++;
  }
  process.stderr.write(`retrace: ${dryRun ? 'would delete' : 'deleted'} ${deleted} of ${all.length} recording${all.length === 1 ? '' : 's'}${kept ? `, kept ${kept} in use` : ''}\n`);
  return 0;
}
