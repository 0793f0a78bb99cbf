// Runs the test suite with Node's test runner. RETRACE_TEST_NODE picks another Node.js binary
// (CI runs the suite on Node 22 and 24); by default the pinned Node of this repo runs it.
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const node = process.env.RETRACE_TEST_NODE || process.execPath;
const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}` };
// Most tests spend their time in child processes waiting on timers, sockets and servers, so
// twice as many test files as cores run at once.
const concurrency = Math.max(2, os.availableParallelism() * 2);
const args = ['--test', `--test-concurrency=${concurrency}`, ...(process.argv.length > 2 ? process.argv.slice(2) : ['dist/test/**/*.test.js'])];
const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`# testing with Node.js ${version} (${node})`);
const r = spawnSync(node, args, { stdio: 'inherit', env });
process.exit(r.status ?? 1);
