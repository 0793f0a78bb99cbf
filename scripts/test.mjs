// Runs the test suite with Node's test runner. RETRACE_TEST_NODE picks another Node.js binary
// (CI runs the suite on Node 22 and 24); by default the pinned Node of this repo runs it.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const node = process.env.RETRACE_TEST_NODE || process.execPath;
const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}` };
const args = ['--test', '--test-concurrency=2', ...(process.argv.length > 2 ? process.argv.slice(2) : ['dist/test/**/*.test.js'])];
const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`# testing with Node.js ${version} (${node})`);
const r = spawnSync(node, args, { stdio: 'inherit', env });
process.exit(r.status ?? 1);
