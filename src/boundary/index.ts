// The boundary: one module per kind of external interaction. Adding a boundary module is adding a
// file that exports a `Boundary` and listing it here. Order matters: `process` restores the
// recorded environment before anything else reads it, and `modules` comes last because it
// suspends interception (for preloaded tooling) until the program's own code starts loading.
import type { Boundary } from './boundary.js';
import { processBoundary } from './process.js';
import { stacksBoundary } from './stacks.js';
import { modulesBoundary } from './modules.js';
import { timeBoundary } from './time.js';
import { randomBoundary } from './random.js';
import { realmsBoundary } from './realms.js';
import { osBoundary } from './os.js';
import { timersBoundary } from './timers.js';
import { fsBoundary } from './fs.js';
import { childProcessBoundary } from './child-process.js';
import { stdinBoundary } from './stdin.js';
import { threadpoolBoundary } from './threadpool.js';
import { wasmBoundary } from './wasm.js';
import { addonsBoundary } from './addons.js';
import { workersBoundary } from './workers.js';
import { dnsBoundary } from './dns.js';
import { dgramBoundary } from './dgram.js';
import { netBoundary } from './net.js';
import { tlsBoundary } from './tls.js';
import { httpBoundary } from './http.js';

export const boundaries: readonly Boundary[] = [
  stacksBoundary,
  processBoundary,
  timeBoundary,
  randomBoundary,
  realmsBoundary,
  osBoundary,
  timersBoundary,
  fsBoundary,
  childProcessBoundary,
  stdinBoundary,
  threadpoolBoundary,
  wasmBoundary,
  addonsBoundary,
  dnsBoundary,
  dgramBoundary,
  netBoundary,
  tlsBoundary,
  httpBoundary,
  workersBoundary,
  modulesBoundary,
];
