#!/usr/bin/env node
// Checked before anything is loaded: on an older Node.js the recorder's hooks do not all exist, and
// a recording or replay that silently misses them would be worse than none.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  process.stderr.write(`retrace: Node.js 22.15 or newer is needed; this is Node.js ${process.version} (${process.execPath})\n`);
  process.exit(2);
}
const { main } = await import('../dist/src/cli/main.js');
await main(process.argv.slice(2));
