// retrace pack and unpack: writing a recording as one file, and getting the folder back.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extractPack, isPack, writePack } from './pack.js';
import { listTraces, UsageError } from './recording.js';
import { say } from './output.js';

export async function pack(o: { location: string; out: string | undefined; force: boolean }): Promise<number> {
  if (isPack(o.location)) throw new UsageError(`${o.location} is already a pack`);
  const refs = listTraces(o.location);
  const out = path.resolve(o.out ?? `${path.basename(path.resolve(o.location))}.retrace`);
  const shown = path.relative(process.cwd(), out) || out;
  // like cp and tar, -o does not make folders: a mistyped path should not leave a tree behind
  const parent = fs.statSync(path.dirname(out), { throwIfNoEntry: false });
  if (!parent?.isDirectory()) {
    throw new UsageError(`cannot write ${shown}: ${path.relative(process.cwd(), path.dirname(out)) || path.dirname(out)} ${parent ? 'is not a folder' : 'does not exist'} (pack -o does not create folders)`);
  }
  if (fs.existsSync(out)) {
    if (fs.statSync(out).isDirectory()) throw new UsageError(`${shown} is a folder: pack writes a file (-o FILE.retrace)`);
    if (!o.force) throw new UsageError(`${shown} exists; use --force to replace it`);
  }
  const r = writePack(refs.map((ref) => ref.file), out);
  for (const f of r.changed.slice(0, 5)) say(`warning: ${f} changed since it was recorded: the pack holds it as it is now, and replay may diverge`);
  if (r.changed.length > 5) say(`warning: ${r.changed.length - 5} more files changed since they were recorded`);
  say(`packed ${r.traces} process${r.traces === 1 ? '' : 'es'} and ${r.sources} source files (${mib(r.sourceBytes)}) into ${shown}: ${mib(r.bytes)}`);
  return 0;
}

export async function unpack(o: { file: string | undefined; out: string | undefined }): Promise<number> {
  if (o.file === undefined) throw new UsageError('unpack needs a file: retrace unpack FILE.retrace [-o DIR]');
  if (!fs.existsSync(o.file)) throw new UsageError(`no file ${o.file}`);
  if (!isPack(o.file)) throw new UsageError(`${o.file} is not a retrace pack`);
  const out = path.resolve(o.out ?? path.basename(o.file).replace(/\.retrace$/, '') + (o.file.endsWith('.retrace') ? '' : '.unpacked'));
  const shown = path.relative(process.cwd(), out) || '.';
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0)) {
    throw new UsageError(`${shown} exists and is not an empty folder; pick another with -o DIR`);
  }
  const manifest = extractPack(o.file, out);
  const project = path.join(out, 'files', manifest.root);
  const traces = manifest.entries.filter((e) => e.path.startsWith('recording/')).length;
  say(`unpacked ${traces} trace${traces === 1 ? '' : 's'} to ${path.join(shown, 'recording')} and ${manifest.entries.length - traces} source files under ${path.join(shown, 'files')}`);
  say(`the project is ${path.relative(process.cwd(), project) || '.'}: replay there with retrace replay ${path.relative(project, path.join(out, 'recording'))}`);
  return 0;
}

function mib(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
