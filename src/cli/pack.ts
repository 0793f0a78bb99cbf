// One portable file for a recording: its traces and a copy of every file its processes loaded (the
// program's modules and its dependencies', with the package.json files that decide how they load),
// so that it replays on a machine that has retrace and not the project.
//
// Layout: the magic line, a u32 (little-endian) manifest length, the manifest (JSON), the entries'
// bytes (each compressed with Brotli), then the SHA-256 of everything before it. Each entry also
// carries the SHA-256 of its own bytes. Sources are stored under their recorded absolute paths, so
// that the folders around the project (a monorepo's node_modules above it) keep their places.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { TraceError, TraceFile } from '../core/trace/reader.js';
import { RECORDING_DIR_MODE, RECORDING_FILE_MODE, retraceVersion } from '../runtime/paths.js';
import { UsageError } from './recording.js';

const MAGIC = Buffer.from('retrace-pack 1\n');
const SHA_SIZE = 32;

export interface PackEntry {
  /** `recording/p0.rtrc`, or `files/` and the recorded absolute path without its leading `/`. */
  path: string;
  /** Where its compressed bytes start, from the first byte after the manifest. */
  offset: number;
  stored: number;
  size: number;
  sha256: string;
  mode: number;
}

export interface PackManifest {
  format: 1;
  retrace: string;
  created: string;
  /** The recorded working folder of the root process: the project. */
  root: string;
  entries: PackEntry[];
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Whether `location` is a pack file (by its first bytes, whatever its name). */
export function isPack(location: string): boolean {
  let fd: number | undefined;
  try {
    if (!fs.statSync(location).isFile()) return false;
    fd = fs.openSync(location, 'r');
    const head = Buffer.alloc(MAGIC.length);
    return fs.readSync(fd, head, 0, head.length, 0) === head.length && head.equals(MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export interface PackSource {
  /** Absolute path of the file here, as it was recorded. */
  file: string;
  /** Its SHA-256 when it was loaded, if the recording has it and it is the file's own bytes. */
  recordedSha256: string | null;
}

/** The files a replay of these traces loads: modules, dependencies, the package.json files around them, source maps. */
export function sourcesOf(traces: TraceFile[]): { sources: Map<string, PackSource>; missing: string[] } {
  const sources = new Map<string, PackSource>();
  const missing: string[] = [];
  const add = (file: string, recordedSha256: string | null, required: boolean) => {
    if (sources.has(file)) return;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      if (required) missing.push(file);
      return;
    }
    if (!stat.isFile()) return;
    sources.set(file, { file, recordedSha256 });
  };
  const loaded: string[] = [];
  for (const trace of traces) {
    const h = trace.header;
    for (const m of [...trace.modules, ...trace.dependencies]) {
      if (!m.url.startsWith('file:')) continue;
      const file = fileURLToPath(m.url);
      // A loader compiles TypeScript before Node sees it: the recorded hash is of its output.
      add(file, /\.[cm]?tsx?$/.test(file) ? null : m.sha256, true);
      loaded.push(file);
    }
    if (h.argv[1] !== undefined) add(path.resolve(h.cwd, h.argv[1]), null, false);
    for (const name of ['package.json', 'tsconfig.json']) add(path.join(h.cwd, name), null, false);
  }
  for (const file of loaded) {
    // How Node resolves and loads a module depends on the package.json files above it ("type",
    // "exports", "imports"), which it reads itself, unrecorded.
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      add(path.join(dir, 'package.json'), null, false);
      if (path.dirname(dir) === dir) break;
    }
    // Source maps, and the sources they name, for breakpoints and stack traces in TypeScript.
    const map = `${file}.map`;
    add(map, null, false);
    if (sources.has(map) && !file.includes(`${path.sep}node_modules${path.sep}`)) {
      try {
        const parsed = JSON.parse(fs.readFileSync(map, 'utf8')) as { sources?: unknown; sourceRoot?: unknown };
        const root = typeof parsed.sourceRoot === 'string' ? parsed.sourceRoot : '';
        for (const s of Array.isArray(parsed.sources) ? parsed.sources : []) {
          if (typeof s === 'string' && !/^[a-z]+:/i.test(s)) add(path.resolve(path.dirname(map), root, s), null, false);
        }
      } catch {
        // a map that cannot be read is copied as it is
      }
    }
  }
  return { sources, missing };
}

export interface PackResult {
  file: string;
  bytes: number;
  traces: number;
  sources: number;
  sourceBytes: number;
  /** Files whose bytes differ from what the recording loaded. */
  changed: string[];
}

/** Writes the recording in `dir` and the files it loaded to `out`. */
export function writePack(tracePaths: string[], out: string): PackResult {
  const traces = tracePaths.map((f) => TraceFile.open(f));
  const root = (traces.find((t) => t.header.parent === null) ?? traces[0]!).header.cwd;
  const { sources, missing } = sourcesOf(traces);
  if (missing.length > 0) {
    throw new UsageError(`cannot pack: ${missing.length} file${missing.length === 1 ? '' : 's'} the recording loaded ${missing.length === 1 ? 'is' : 'are'} not here (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}); pack where it was recorded`);
  }
  const entries: PackEntry[] = [];
  const blobs: Buffer[] = [];
  let offset = 0;
  const changed: string[] = [];
  let sourceBytes = 0;
  const addEntry = (name: string, data: Buffer, mode: number) => {
    const stored = zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 9, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length } });
    entries.push({ path: name, offset, stored: stored.length, size: data.length, sha256: sha256(data), mode });
    blobs.push(stored);
    offset += stored.length;
  };
  for (const f of tracePaths) addEntry(`recording/${path.basename(f)}`, fs.readFileSync(f), RECORDING_FILE_MODE);
  for (const s of [...sources.values()].sort((a, b) => (a.file < b.file ? -1 : 1))) {
    const data = fs.readFileSync(s.file);
    if (s.recordedSha256 !== null && sha256(data) !== s.recordedSha256) changed.push(s.file);
    sourceBytes += data.length;
    addEntry(`files/${s.file.replace(/^[/\\]+/, '').split(path.sep).join('/')}`, data, fs.statSync(s.file).mode & 0o755);
  }
  const manifest: PackManifest = { format: 1, retrace: retraceVersion(), created: new Date().toISOString(), root, entries };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(manifestBytes.length);
  const hash = createHash('sha256');
  const parts = [MAGIC, length, manifestBytes, ...blobs];
  for (const p of parts) hash.update(p);
  const body = Buffer.concat([...parts, hash.digest()]);
  // Written beside its place and renamed: a reader never sees half a pack.
  const tmp = `${out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, body, { mode: RECORDING_FILE_MODE });
  fs.renameSync(tmp, out);
  return { file: out, bytes: body.length, traces: tracePaths.length, sources: sources.size, sourceBytes, changed };
}

/** Reads and checks a pack: its whole-file checksum, then its manifest. */
function readPack(file: string): { manifest: PackManifest; data: Buffer; dataStart: number; digest: string } {
  const data = fs.readFileSync(file);
  if (data.length < MAGIC.length + 4 + SHA_SIZE || !data.subarray(0, MAGIC.length).equals(MAGIC)) throw new TraceError(`${file} is not a retrace pack`);
  const digest = sha256(data.subarray(0, data.length - SHA_SIZE));
  if (digest !== data.subarray(data.length - SHA_SIZE).toString('hex')) throw new TraceError(`${file} is damaged (its checksum does not match): download or copy it again`);
  const length = data.readUInt32LE(MAGIC.length);
  const dataStart = MAGIC.length + 4 + length;
  let manifest: PackManifest;
  try {
    manifest = JSON.parse(data.subarray(MAGIC.length + 4, dataStart).toString('utf8')) as PackManifest;
  } catch {
    throw new TraceError(`${file} is damaged (its manifest cannot be read)`);
  }
  if (manifest.format !== 1) throw new TraceError(`${file} is a pack of format ${String(manifest.format)}, newer than this retrace reads`);
  return { manifest, data, dataStart, digest };
}

/**
 * Extracts a pack into `dest` (which must not exist): `recording/` and `files/` (the sources under
 * their recorded absolute paths). Every entry's checksum is verified; an entry path that would
 * leave `dest` is refused.
 */
export function extractPack(file: string, dest: string): PackManifest {
  const { manifest, data, dataStart } = readPack(file);
  fs.mkdirSync(dest, { recursive: true, mode: RECORDING_DIR_MODE });
  for (const e of manifest.entries) {
    const target = path.resolve(dest, e.path);
    if (!target.startsWith(path.resolve(dest) + path.sep) || !/^(recording|files)\//.test(e.path)) throw new TraceError(`${file} is damaged (entry ${JSON.stringify(e.path)})`);
    const stored = data.subarray(dataStart + e.offset, dataStart + e.offset + e.stored);
    let bytes: Buffer;
    try {
      bytes = zlib.brotliDecompressSync(stored);
    } catch {
      throw new TraceError(`${file} is damaged (${e.path} cannot be decompressed)`);
    }
    if (bytes.length !== e.size || sha256(bytes) !== e.sha256) throw new TraceError(`${file} is damaged (${e.path} does not match its checksum)`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, bytes, { mode: e.mode });
  }
  fs.writeFileSync(path.join(dest, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Where packs are extracted to replay: RETRACE_CACHE, else $XDG_CACHE_HOME/retrace, else ~/.cache/retrace. */
function cacheRoot(): string {
  if (process.env.RETRACE_CACHE) return path.resolve(process.env.RETRACE_CACHE);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'retrace');
}

export interface OpenedPack {
  /** The extracted folder: recording/, files/, manifest.json. */
  dir: string;
  recording: string;
  /** The project folder inside it: where the recorded root process ran. */
  projectRoot: string;
  manifest: PackManifest;
}

const opened = new Map<string, OpenedPack>();

/** Extracts a pack once into the cache (keyed by its checksum) and returns where. */
export function openPack(file: string): OpenedPack {
  const key = path.resolve(file);
  const known = opened.get(key);
  if (known) return known;
  const { digest } = readPack(file);
  const dir = path.join(cacheRoot(), 'packs', digest.slice(0, 24));
  let manifest: PackManifest;
  if (fs.existsSync(path.join(dir, 'manifest.json'))) {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as PackManifest;
  } else {
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: RECORDING_DIR_MODE });
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    manifest = extractPack(file, tmp);
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another retrace extracted the same pack at the same time: theirs is as good.
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(path.join(dir, 'manifest.json'))) throw err;
    }
  }
  const result: OpenedPack = { dir, recording: path.join(dir, 'recording'), projectRoot: path.join(dir, 'files', manifest.root), manifest };
  opened.set(key, result);
  return result;
}

/**
 * The files of the packed project that differ in `here` (a checkout replay is run from), as paths
 * relative to the project; null when `here` is not a checkout of it (the recorded program is not there).
 */
export function checkoutDifferences(pack: OpenedPack, here: string, program: string | undefined): string[] | null {
  const root = pack.manifest.root;
  if (program === undefined || !(program === root || program.startsWith(root + path.sep))) return null;
  if (!fs.existsSync(path.join(here, path.relative(root, program)))) return null;
  if (path.resolve(here) === pack.projectRoot) return null;
  const differ: string[] = [];
  const prefix = `files/${root.replace(/^[/\\]+/, '').split(path.sep).join('/')}/`;
  for (const e of pack.manifest.entries) {
    if (!e.path.startsWith(prefix)) continue;
    const relative = e.path.slice(prefix.length);
    if (relative.split('/').includes('node_modules')) continue;
    let local: Buffer;
    try {
      local = fs.readFileSync(path.join(here, relative));
    } catch {
      differ.push(`${relative} (not here)`);
      continue;
    }
    if (sha256(local) !== e.sha256) differ.push(relative);
  }
  return differ;
}
