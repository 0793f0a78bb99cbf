// Tight loops of boundary calls, run once plain and once under `retrace record` by bench/run.mjs.
// Prints one JSON line: for each operation, the median wall and thread-CPU nanoseconds per call over
// its batches (the first batch, which warms the JIT up, is left out).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const scale = Number(process.env.BENCH_MICRO_SCALE ?? 1);
const batches = Number(process.env.BENCH_MICRO_BATCHES ?? 7);
const file = path.join(os.tmpdir(), `retrace-bench-small-${process.pid}.txt`);
fs.writeFileSync(file, 'a small file read on every iteration of the loop\n'.repeat(2));

let sink = 0;
const ops = {
  'Date.now': { n: 1_000_000, run(n) { for (let i = 0; i < n; i++) sink += Date.now() & 1; } },
  'Math.random': { n: 1_000_000, run(n) { for (let i = 0; i < n; i++) sink += Math.random(); } },
  'crypto.randomUUID': { n: 200_000, run(n) { for (let i = 0; i < n; i++) sink += crypto.randomUUID().length; } },
  'fs.readFileSync (100 B)': { n: 20_000, run(n) { for (let i = 0; i < n; i++) sink += fs.readFileSync(file).length; } },
  setImmediate: {
    n: 50_000,
    run(n) {
      return new Promise((resolve) => {
        let left = n;
        const step = () => (--left > 0 ? setImmediate(step) : resolve());
        setImmediate(step);
      });
    },
  },
};

const hr = process.hrtime.bigint.bind(process.hrtime);
// CPU time of this thread only (Node 23.9+): what the program's thread spends, without the time it
// was preempted by other processes on a shared machine, and without the trace writer's worker.
const threadCpu = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage.bind(process) : null;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// The clock itself is a boundary call under recording; one reading per batch is noise.
const result = {};
for (const [name, op] of Object.entries(ops)) {
  const n = Math.max(1, Math.round(op.n * scale));
  const wall = [];
  const cpu = [];
  for (let b = 0; b <= batches; b++) {
    const cpuStart = threadCpu?.();
    const start = hr();
    await op.run(n);
    const ns = Number(hr() - start) / n;
    const used = cpuStart ? threadCpu(cpuStart) : null;
    if (b > 0) {
      wall.push(ns);
      if (used) cpu.push(((used.user + used.system) * 1000) / n);
    }
  }
  result[name] = { calls: n, nsPerCall: median(wall), cpuNsPerCall: cpu.length ? median(cpu) : null };
}
fs.rmSync(file, { force: true });
console.log(`MICRO ${JSON.stringify(result)} ${sink > -1 ? '' : 'x'}`);
