// os: the machine the program runs on. Every query is an input; replay answers from the recording.
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { builtin, patch, wrapSync } from './wrap.js';

const os = builtin<typeof import('node:os')>('node:os');

/** Queries with no arguments that matter (or only options), recorded with their results. */
const QUERIES = [
  'hostname', 'cpus', 'totalmem', 'freemem', 'uptime', 'loadavg', 'networkInterfaces', 'userInfo',
  'homedir', 'tmpdir', 'release', 'version', 'machine', 'availableParallelism', 'getPriority', 'type',
  'platform', 'arch', 'endianness',
] as const;

export const osBoundary: Boundary = {
  name: 'os',
  install(engine: Engine) {
    for (const name of QUERIES) {
      if (typeof os[name] !== 'function') continue;
      patch(os, name, (original) => wrapSync(engine, `os.${name}`, original as never, (args) => args) as never);
    }
    patch(os, 'setPriority', (original) => wrapSync(engine, 'os.setPriority', original, (args) => args) as typeof original);
  },
};
