// Loaded into every Node.js process of a recorded or replayed program through NODE_OPTIONS=--import.
// It must stay quiet and harmless where it has nothing to do.
import { isMainThread } from 'node:worker_threads';
import { ENV } from './paths.js';
import { startRecording, startReplay } from './session.js';

/** Package-manager and launcher processes: their children are the program, they are not. */
const LAUNCHERS = new RegExp(
  [
    String.raw`[\/](npm|npx|yarn|yarnpkg|pnpm|pnpx|corepack)$`, // bin links: /usr/bin/npm
    String.raw`[\/](npm-cli|npx-cli|npm-prefix|yarn|pnpm|corepack)\.c?js$`,
    String.raw`[\/]node_modules[\/](npm|yarn|pnpm|corepack)[\/]`,
    String.raw`[\/]node_modules[\/](\.bin[\/]tsx|tsx[\/]dist[\/]cli\.m?js)$`,
  ].join('|'),
);

const mode = process.env[ENV.mode];
const script = process.argv[1] ?? '';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const supported = major > 22 || (major === 22 && minor >= 15);

// A process of the program that runs an older Node.js (a child started with another `node`) is
// left alone, and says so: its hooks would miss crossings and its replay would be wrong.
if (!supported && mode && isMainThread) {
  process.stderr.write(
    `retrace: ${mode === 'record' ? 'not recording' : 'cannot replay'} ${script || 'this process'}: it runs Node.js ${process.version}; 22.15 or newer is needed\n`,
  );
  if (mode === 'replay') process.exit(2);
}

// Worker threads are not recorded yet (docs/boundaries.md); only the main thread is.
if (supported && isMainThread && !LAUNCHERS.test(script)) {
  if (mode === 'record' && process.env[ENV.dir]) startRecording(process.env[ENV.dir]!);
  else if (mode === 'replay' && process.env[ENV.trace]) startReplay(process.env[ENV.trace]!);
}
