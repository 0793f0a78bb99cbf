// The public suites used for local work (expressjs/express, brianc/node-postgres, redis/ioredis,
// fastify/demo): checked out by hand (git clone, npm install) under $RETRACE_PUBLIC_SUITES/<name>
// (default conformance/.work/public/<name>). CI cannot reach them: absent, their row says skipped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.env.RETRACE_PUBLIC_SUITES ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '.work', 'public');

export function publicCheckout(name, needs) {
  return () => {
    const dir = path.join(root, name);
    return fs.existsSync(path.join(dir, needs)) ? dir : undefined;
  };
}
