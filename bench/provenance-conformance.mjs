#!/usr/bin/env node
// The provenance conformance set (test/provenance-conformance-cases.ts): records each program,
// asks every question (those the suite does not assert yet too) and reports precision and recall
// of the origins named, the questions answered right, and the wrong answers that did not say so.
//
//   node bench/provenance-conformance.mjs            replaces the conformance part of BENCHMARKS.md
//   --out FILE      the Markdown file to update
//   --print         print the table and every wrong answer's tree, write nothing
//   --only NAME     programs whose name contains NAME
import * as fs from 'node:fs';
import * as path from 'node:path';
import { root } from './common.mjs';

const argv = process.argv.slice(2);
const printOnly = argv.includes('--print');
const outArg = argv.indexOf('--out');
const onlyArg = argv.indexOf('--only');
const outFile = outArg >= 0 ? path.resolve(argv[outArg + 1]) : path.join(root, 'BENCHMARKS.md');
const casesModule = path.join(root, 'dist', 'test', 'provenance-conformance-cases.js');
if (!fs.existsSync(casesModule)) {
  console.error('retrace: the conformance bench needs the build: run `npm run build` first');
  process.exit(2);
}
const { programs, runProgram, score, describeOutcome, isRight, unavailable } = await import(casesModule);

const log = (msg) => process.stderr.write(`bench conformance: ${msg}\n`);
const outcomes = [];
const skipped = [];
for (const program of programs) {
  if (onlyArg >= 0 && !program.name.includes(argv[onlyArg + 1])) continue;
  const why = await unavailable(program);
  if (why) {
    skipped.push(`${program.name} (${why})`);
    log(`skipped ${program.name}: ${why}`);
    continue;
  }
  const started = Date.now();
  const got = await runProgram(program);
  outcomes.push(...got);
  log(`${program.name}: ${got.filter(isRight).length} of ${got.length} right (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  for (const o of got) if (!isRight(o)) log(describeOutcome(o));
}
const s = score(outcomes);
const commit = (() => {
  try {
    const head = fs.readFileSync(path.join(root, '.git'), 'utf8');
    return head;
  } catch {
    return '';
  }
})();
void commit;
const rows = [];
for (const program of [...new Set(outcomes.map((o) => o.program))]) {
  const mine = outcomes.filter((o) => o.program === program);
  const ps = score(mine);
  rows.push(`| ${program} | ${mine.length} | ${ps.right} | ${ps.precision.toFixed(3)} | ${ps.recall.toFixed(3)} | ${ps.unmarkedWrong} |`);
}
const wrong = outcomes.filter((o) => !isRight(o)).map((o) => `- ${o.program}: \`${o.question.expr}\`${o.question.pending ? ` (not asserted: ${o.question.pending})` : ''}: ${describeOutcome(o).split('\n')[0].replace(/^[^:]*: [^:]*: /, '')}`);
const section = [
  '<!-- provenance-conformance:start -->',
  '### Provenance conformance (`node bench/provenance-conformance.mjs`)',
  '',
  `${s.questions} questions over ${rows.length} programs (test/provenance-conformance-cases.ts); an origin the answer must name and finds is a true positive, one it misses a false negative, one it must not name and does a false positive.${skipped.length ? ` Not run here: ${skipped.join('; ')}.` : ''}`,
  '',
  '| program | questions | right | precision | recall | wrong and unmarked |',
  '|---|---|---|---|---|---|',
  ...rows,
  `| **all** | ${s.questions} | ${s.right} | **${s.precision.toFixed(3)}** | **${s.recall.toFixed(3)}** | ${s.unmarkedWrong} |`,
  '',
  ...(wrong.length ? ['Answers not right:', '', ...wrong, ''] : ['Every answer right.', '']),
  '<!-- provenance-conformance:end -->',
].join('\n');
if (printOnly) {
  console.log(section);
  process.exit(0);
}
let doc = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '# Benchmarks\n';
const re = /<!-- provenance-conformance:start -->[\s\S]*?<!-- provenance-conformance:end -->/;
doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
fs.writeFileSync(outFile, doc);
console.log(section);
