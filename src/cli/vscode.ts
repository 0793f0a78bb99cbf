// retrace vscode [DIR]: writes a VS Code launch configuration that replays the recording in DIR
// under the debugger, so that F5 in the project stops at the breakpoints set in its sources.
//
// The configuration launches `retrace replay DIR` as a `node` program. VS Code's JavaScript
// debugger (js-debug) attaches to the processes a launched program starts (`autoAttachChildProcesses`,
// on by default): its bootloader, loaded through NODE_OPTIONS, holds each Node.js process until the
// debugger is attached and its breakpoints are set. The replayed program is such a child of the
// retrace CLI, so no --inspect flag is passed: --inspect-brk would make Node wait for a debugger on
// a port js-debug is not watching. NODE_OPTIONS preloads run before the --require of retrace's
// replay preload, so the bootloader's own file and process calls are not taken for the program's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../runtime/paths.js';
import { isPack, openPack } from './pack.js';
import { prepareReplay, recordingTrusted } from './replay.js';
import { UsageError } from './recording.js';

export interface VsCodeOptions {
  location: string;
  /** A configuration of the `retrace` debug type (retrace dap, through the extension in vscode/), which can step back. */
  dap?: boolean;
}

/** A path as launch.json should hold it: under the workspace folder through ${workspaceFolder}. */
function inWorkspace(workspace: string, target: string): string {
  const rel = path.relative(workspace, target);
  if (rel === '') return '${workspaceFolder}';
  if (rel.startsWith('..') || path.isAbsolute(rel)) return target.split(path.sep).join('/');
  return `\${workspaceFolder}/${rel.split(path.sep).join('/')}`;
}

export type LaunchConfiguration = Record<string, unknown> & { name: string };

/** The launch configuration that replays `location` (relative to `workspace`) under VS Code's debugger. */
export function launchConfiguration(workspace: string, location: string): LaunchConfiguration {
  const recording = path.resolve(workspace, location);
  const relative = path.relative(workspace, recording);
  const shown = relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? recording : relative;
  const retraceFiles = inWorkspace(workspace, packageRoot);
  return {
    name: `retrace: replay ${shown.split(path.sep).join('/')}`,
    type: 'node',
    request: 'launch',
    // The Node.js running retrace now, which can run it (22.15 or newer): not the PATH's, which may
    // be older.
    runtimeExecutable: process.execPath,
    program: `${retraceFiles}/bin/retrace.js`,
    // --trust given to `retrace vscode` is the user's word for this recording: the replay needs it too.
    args: ['replay', shown.split(path.sep).join('/'), ...(recordingTrusted() ? ['--trust'] : [])],
    // Replay runs from the project folder the recording was made in.
    cwd: '${workspaceFolder}',
    // The replayed program is a child process of the retrace CLI: the debugger attaches to it.
    autoAttachChildProcesses: true,
    sourceMaps: true,
    outFiles: ['${workspaceFolder}/**/*.(m|c|)js', '!**/node_modules/**', `!${retraceFiles}/dist/**`],
    resolveSourceMapLocations: ['${workspaceFolder}/**', '!**/node_modules/**'],
    // Stepping stays in the program: not into Node.js internals, nor into retrace's replay layer.
    skipFiles: ['<node_internals>/**', `${retraceFiles}/bin/**`, `${retraceFiles}/dist/**`],
    console: 'integratedTerminal',
  };
}

/** The configuration of the `retrace` debug type (the extension in vscode/ runs `retrace dap`): stepping backwards. */
export function dapConfiguration(workspace: string, location: string): LaunchConfiguration {
  const recording = path.resolve(workspace, location);
  const relative = path.relative(workspace, recording);
  const shown = (relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? recording : relative).split(path.sep).join('/');
  return {
    name: `retrace: debug ${shown} (step back)`,
    type: 'retrace',
    request: 'launch',
    recording: shown,
    cwd: '${workspaceFolder}',
    retrace: `${inWorkspace(workspace, packageRoot)}/bin/retrace.js`,
    // The Node.js running retrace now: retrace needs 22.15 or later, which `node` on the PATH may not be.
    runtimeExecutable: process.execPath,
  };
}

/**
 * launch.json is JSON with comments and trailing commas (VS Code writes it so): the JSON left once
 * comments and trailing commas outside strings are taken out.
 */
export function parseJsonWithComments(text: string): { value: unknown; hadComments: boolean } {
  let out = '';
  let hadComments = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end + 1);
      i = end;
    } else if (c === '/' && text[i + 1] === '/') {
      hadComments = true;
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      hadComments = true;
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
      out += ' ';
    } else {
      out += c;
    }
  }
  return { value: JSON.parse(withoutTrailingCommas(out)) as unknown, hadComments };
}

/** The index of the quote that closes the JSON string opening at `start` (escapes skipped), or the text's end. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
  return i;
}

/** A comma before a closing bracket is allowed in launch.json, not in JSON; strings are left alone. */
function withoutTrailingCommas(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end + 1);
      i = end;
    } else if (c === ',' && /^\s*[\]}]/.test(text.slice(i + 1))) {
      continue;
    } else {
      out += c;
    }
  }
  return out;
}

export interface WriteResult {
  file: string;
  configuration: LaunchConfiguration;
  /** What happened to a configuration of the same name. */
  action: 'added' | 'replaced' | 'unchanged';
  /** Where the previous file was saved because its comments could not be kept, if it was. */
  backup: string | null;
}

/** Adds the configuration to workspace/.vscode/launch.json, replacing one with the same name. */
export function writeLaunchConfiguration(workspace: string, configuration: LaunchConfiguration): WriteResult {
  const dir = path.join(workspace, '.vscode');
  const file = path.join(dir, 'launch.json');
  let launch: { version?: unknown; configurations?: unknown; [key: string]: unknown } = { version: '0.2.0', configurations: [] };
  let previous: string | null = null;
  let hadComments = false;
  try {
    previous = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (previous !== null && previous.trim() !== '') {
    let parsed: unknown;
    try {
      ({ value: parsed, hadComments } = parseJsonWithComments(previous));
    } catch (err) {
      throw new UsageError(`${path.relative(workspace, file)} is not valid JSON (${(err as Error).message}); fix it or move it away, then run retrace vscode again`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`${path.relative(workspace, file)} does not hold a JSON object; fix it or move it away, then run retrace vscode again`);
    }
    launch = parsed as typeof launch;
    if (launch.configurations === undefined) launch.configurations = [];
    if (!Array.isArray(launch.configurations)) {
      throw new UsageError(`"configurations" in ${path.relative(workspace, file)} is not a list; fix it, then run retrace vscode again`);
    }
  }
  const configurations = launch.configurations as unknown[];
  const at = configurations.findIndex((c) => typeof c === 'object' && c !== null && (c as { name?: unknown }).name === configuration.name);
  let action: WriteResult['action'] = 'added';
  if (at >= 0) {
    action = JSON.stringify(configurations[at]) === JSON.stringify(configuration) ? 'unchanged' : 'replaced';
    configurations[at] = configuration;
  } else {
    configurations.push(configuration);
  }
  const text = `${JSON.stringify(launch, null, 2)}\n`;
  let backup: string | null = null;
  if (text !== previous) {
    fs.mkdirSync(dir, { recursive: true });
    // JSON has no comments: keep the file that had them beside the new one.
    if (hadComments && previous !== null) {
      backup = `${file}.bak`;
      fs.writeFileSync(backup, previous);
    }
    fs.writeFileSync(file, text);
  }
  return { file, configuration, action, backup };
}

export async function run(opts: VsCodeOptions): Promise<number> {
  const dap = opts.dap ?? false;
  // A pack is debugged in its snapshot of the project (extracted to the cache): that folder is the
  // workspace to open, where breakpoints bind to the code that was recorded.
  const packed = isPack(opts.location);
  const workspace = packed ? openPack(opts.location).projectRoot : process.cwd();
  const location = packed ? path.resolve(opts.location) : opts.location;
  // The same checks as replay: a readable recording whose program is in this folder.
  const { header } = prepareReplay({ location, process: undefined, nodeFlags: [], stallMs: undefined });
  const result = writeLaunchConfiguration(workspace, dap ? dapConfiguration(workspace, location) : launchConfiguration(workspace, location));
  const where = packed ? result.file : path.relative(workspace, result.file);
  const verb = { added: 'added to', replaced: 'replaced in', unchanged: 'already in' }[result.action];
  const lines = [
    `configuration "${result.configuration.name}" ${verb} ${where}:`,
    JSON.stringify(result.configuration, null, 2),
    '',
    `It replays process ${header.process} (${[path.basename(header.argv[0] ?? 'node'), ...header.argv.slice(1).map((a) => path.relative(workspace, a) || a)].join(' ')}) under the debugger.`,
    `Open ${packed ? `${workspace} (the packed snapshot of the project)` : 'this folder'} in VS Code, set breakpoints in your sources (TypeScript too, through source maps),`,
    `then pick "${result.configuration.name}" in Run and Debug and press F5.`,
  ];
  if (dap) lines.push('The "retrace" debug type comes with retrace\'s VS Code extension (npm run package:vscode in retrace\'s repository, then Extensions: Install from VSIX...): step back, reverse continue, the recording\'s timeline, last write.');
  if (result.backup) lines.push(`${where} had comments, which JSON cannot keep: the previous file is ${path.relative(workspace, result.backup)}.`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
