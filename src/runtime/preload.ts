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

// Worker threads are not recorded yet (docs/boundaries.md); only the main thread is.
if (isMainThread && !LAUNCHERS.test(script)) {
  if (mode === 'record' && process.env[ENV.dir]) startRecording(process.env[ENV.dir]!);
  else if (mode === 'replay' && process.env[ENV.trace]) startReplay(process.env[ENV.trace]!);
}
