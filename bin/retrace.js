#!/usr/bin/env node
// Checked before anything is loaded: on an older Node.js the recorder's hooks do not all exist, and
// a recording or replay that silently misses them would be worse than none. (This file is read by
// whatever Node.js runs it: it keeps to syntax old versions understand.)
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const MINIMUM = [22, 15];
const recentEnough = (version) => {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1]);
};

if (!recentEnough(process.versions.node)) {
  const newer = process.env.RETRACE_REEXEC ? null : projectNode(process.cwd());
  if (!newer) {
    process.stderr.write(
      `retrace: Node.js 22.15 or newer is needed; this is Node.js ${process.version} (${process.execPath}).\n` +
        `retrace: get one for this project with \`npm install --save-dev node@24\` (retrace then uses node_modules/.bin/node), ` +
        `or for your shell with \`nvm install 24\` (https://github.com/nvm-sh/nvm) or from https://nodejs.org\n`,
    );
    process.exit(2);
  }
  // The project's own Node.js runs retrace, and is first on the PATH of what it runs, so that
  // `retrace record -- node app.js` records under it too (as `npm run` does).
  process.stderr.write(`retrace: this is Node.js ${process.version}; using the project's Node.js ${newer.version} (${path.relative(process.cwd(), newer.file) || newer.file})\n`);
  const child = spawn(newer.file, [process.argv[1], ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, RETRACE_REEXEC: '1', PATH: `${path.dirname(newer.file)}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  const { main } = await import('../dist/src/cli/main.js');
  await main(process.argv.slice(2));
}

/** A Node.js new enough in node_modules of this folder or a folder above it (the `node` package). */
function projectNode(from) {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    for (const file of [path.join(dir, 'node_modules', '.bin', 'node'), path.join(dir, 'node_modules', 'node', 'bin', 'node')]) {
      if (!fs.existsSync(file)) continue;
      const r = spawnSync(file, ['-p', 'process.version'], { encoding: 'utf8', timeout: 10000 });
      const version = r.status === 0 ? r.stdout.trim() : '';
      if (version && recentEnough(version)) return { file, version };
    }
    if (path.dirname(dir) === dir) return null;
  }
}
