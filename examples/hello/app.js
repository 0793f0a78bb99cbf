// A small program full of nondeterminism: the time, random numbers, racing timers, a file it
// reads, and a child process. Record it once; every replay prints exactly the same thing.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const started = new Date();
console.log(`started at ${started.toISOString()} as pid ${process.pid}, run id ${randomUUID()}`);

// Three workers finish in a random order.
const finished = [];
await Promise.all(
  ['alpha', 'beta', 'gamma'].map(async (name) => {
    await sleep(Math.random() * 50);
    finished.push(name);
  }),
);
console.log(`workers finished in this order: ${finished.join(', ')}`);

const config = JSON.parse(await readFile(new URL('./config.json', import.meta.url), 'utf8'));
console.log(`config says greeting=${config.greeting}`);

const uptime = execFileSync(process.execPath, ['-e', 'console.log(process.hrtime.bigint())'], { encoding: 'utf8' }).trim();
console.log(`a child process reported ${uptime}`);
console.log(`took ${Date.now() - started.getTime()} ms`);
