// The recordings an MCP session can see: the one recording `retrace mcp` was started on, or every
// recording under the folder it was started on, folders and packs (found again at each listing, so
// that a recording made while the session runs appears).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TraceError } from '../core/trace/reader.js';
import { isPack } from '../cli/pack.js';
import { hasRecording } from '../cli/recording.js';

/** Folders not searched for recordings. */
const SKIPPED = new Set(['node_modules', '.git']);
/** How deep below the folder recordings are looked for. */
const MAX_DEPTH = 4;
/** At most this many recordings are listed. */
const MAX_RECORDINGS = 200;

export interface RecordingRef {
  /** How tools name it: its path relative to the folder (`.` for the folder itself). */
  name: string;
  /** Its path as the other commands take it. */
  location: string;
}

export class Recordings {
  /** True when the session was started on one recording rather than a folder of them. */
  readonly single: boolean;

  /**
   * root: a recording or a folder of them; identities: age identity files (--identity) for the
   * encrypted ones, whose keys are unwrapped before a tool reads them (unlock).
   */
  constructor(readonly root: string, readonly identities: string[] = []) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(root);
    } catch {
      throw new TraceError(`no recording or folder at ${root}`);
    }
    this.single = stat.isFile() || hasRecording(root);
  }

  /**
   * Unwraps the key of every encrypted recording listed (the reader is synchronous, age is not).
   * Run before each tool call, so a recording made while the server runs is readable too; a key
   * already unwrapped is unwrapped again, which costs a millisecond.
   */
  async unlock(): Promise<void> {
    if (this.identities.length === 0) return;
    const { unlockRecordings } = await import('../cli/encryption.js');
    await unlockRecordings(this.list().map((r) => r.location), this.identities);
  }

  /** Every recording, by name. */
  list(): RecordingRef[] {
    if (this.single) return [{ name: path.basename(path.resolve(this.root)), location: this.root }];
    const found: RecordingRef[] = [];
    const walk = (dir: string, depth: number) => {
      if (found.length >= MAX_RECORDINGS) return;
      if (hasRecording(dir)) {
        found.push({ name: path.relative(this.root, dir) || '.', location: dir });
        return;
      }
      if (depth >= MAX_DEPTH) return;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        const full = path.join(dir, e.name);
        if (e.isDirectory() && !SKIPPED.has(e.name) && !e.name.startsWith('.')) walk(full, depth + 1);
        // A pack (retrace pack): a recording with a snapshot of its project, replayed there.
        else if (e.isFile() && e.name.endsWith('.retrace') && isPack(full) && found.length < MAX_RECORDINGS) found.push({ name: path.relative(this.root, full), location: full });
      }
    };
    walk(this.root, 0);
    return found;
  }

  /** The recording a tool call names (or the only one, when it names none). */
  resolve(name: string | undefined): RecordingRef {
    const all = this.list();
    if (name === undefined || name === '') {
      if (all.length === 1) return all[0]!;
      if (all.length === 0) throw new TraceError(`there is no recording under ${this.root} (record one with retrace record --out DIR -- node app.js)`);
      throw new TraceError(`there are ${all.length} recordings; name one with "recording" (${all.slice(0, 5).map((r) => r.name).join(', ')}${all.length > 5 ? ', …' : ''}): see the list_recordings tool`);
    }
    const found = all.find((r) => r.name === name || path.resolve(r.location) === path.resolve(this.root, name) || path.resolve(r.location) === path.resolve(name));
    if (!found) throw new TraceError(`there is no recording named "${name}" (recordings: ${all.slice(0, 5).map((r) => r.name).join(', ') || 'none'}${all.length > 5 ? ', …' : ''})`);
    return found;
  }
}
