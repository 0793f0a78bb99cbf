// `npm run demo:ai-agent`: records the agent while it classifies messages with a (local, fake)
// LLM API that now and then answers in prose instead of JSON, so the agent crashes; then replays
// the crash with the API gone.
//
//   node examples/ai-agent/demo.mjs [--out DIR] [--seed S]
//
// The seed makes the stand-in API answer the 4th message in prose, so the recorded run crashes.
// Only the agent runs under `retrace record`; the API is not recorded.
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const retrace = path.join(repo, 'bin', 'retrace.js');
const { values } = parseArgs({
  options: { out: { type: 'string', default: path.join(here, 'recording') }, seed: { type: 'string', default: '6' } },
});
const relativeOut = path.relative(repo, path.resolve(values.out));
const out = relativeOut.startsWith('..') ? path.resolve(values.out) : relativeOut || '.';

const step = (text) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const fail = (text) => {
  console.error(`demo: ${text}`);
  process.exit(1);
};

step(`the model API: examples/ai-agent/fake-llm.mjs --seed ${values.seed} (a local stand-in, not recorded)`);
const api = spawn(process.execPath, [path.join(here, 'fake-llm.mjs'), '--seed', values.seed], { stdio: ['ignore', 'pipe', 'inherit'] });
const apiExited = new Promise((resolve) => api.on('exit', resolve));
// The stand-in API goes when this script goes, however it ends.
process.on('exit', () => {
  if (api.exitCode === null && api.signalCode === null) api.kill('SIGTERM');
});
const baseUrl = await new Promise((resolve, reject) => {
  let output = '';
  api.stdout.setEncoding('utf8');
  api.stdout.on('data', (chunk) => {
    output += chunk;
    const m = /^listening (\S+)$/m.exec(output);
    if (m) resolve(m[1]);
  });
  void apiExited.then(() => reject(new Error(`fake-llm.mjs exited before listening:\n${output}`)));
});

step(`record: LLM_BASE_URL=${baseUrl} retrace record --out ${out} -- node examples/ai-agent/agent.mjs`);
const recorded = spawnSync(process.execPath, [retrace, 'record', '--force', '--out', out, '--', process.execPath, path.join('examples', 'ai-agent', 'agent.mjs')], {
  cwd: repo,
  encoding: 'utf8',
  env: { ...process.env, LLM_BASE_URL: baseUrl },
});
process.stdout.write(recorded.stdout);
process.stderr.write(recorded.stderr);
api.kill('SIGTERM');
await apiExited;
console.log('(the model API is stopped)');
if (recorded.status === 0) fail(`the agent did not crash this time: try another --seed`);

step(`replay: retrace replay ${out}   (no model API: the recording answers)`);
const replayed = spawnSync(process.execPath, [retrace, 'replay', out], { cwd: repo, encoding: 'utf8' });
process.stdout.write(replayed.stdout);
process.stderr.write(replayed.stderr);

const crash = (stderr) => /^SyntaxError: .*$/m.exec(stderr)?.[0];
if (replayed.status !== recorded.status) fail(`the replay exited with ${replayed.status}, the recording with ${recorded.status}`);
if (replayed.stdout !== recorded.stdout) fail('the replay printed something else than the recording');
if (!crash(recorded.stderr) || crash(replayed.stderr) !== crash(recorded.stderr)) fail('the replay did not crash as the recording did');
console.log(`\nThe replay crashed the same way, with exit status ${replayed.status}:\n  ${crash(replayed.stderr)}`);
console.log(`See examples/ai-agent/README.md to find the answer that broke it, starting with\n  npx retrace show ${out} --kind http,crash`);
