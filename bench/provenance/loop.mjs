// Provenance workload 4 (memory under the node cap): a tight loop whose one variable depends on every
// earlier iteration, ITERATIONS times (default a million). Each iteration makes three lineage nodes,
// so `retrace why` of `acc` at the last line fills the arena's cap (1,000,000 nodes by default) and
// then summarizes per source location; bench/provenance.mjs checks that the replayed process's peak
// memory stays the same when the loop runs three times as long.
const iterations = Number(process.env.ITERATIONS ?? 1_000_000);
// The start value is a recorded input, so the lineage reaches an origin.
let acc = Math.floor(Math.random() * 1000);
for (let i = 0; i < iterations; i++) acc = (acc * 31 + i) % 1000003;
console.log(`${iterations} iterations: acc ${acc}`);
