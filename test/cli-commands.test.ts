// The command shape: every command's help comes from the options it declares, the parser accepts
// exactly those, and a typo gets the nearest name. Driven through the real CLI, with the
// declarations read from the built modules so that a command added later is covered too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../src/cli/commands/index.js';
import { parseArgs } from '../src/cli/args.js';
import { KIND_GROUPS } from '../src/inspect/timeline.js';
import { cli, describeRun, retrace, workdir, writeFiles } from './helpers.js';

test('retrace --help lists every command; help COMMAND and COMMAND --help describe every option', () => {
  const dir = workdir();
  const overview = retrace(dir, ['--help']);
  assert.equal(overview.status, 0, describeRun(overview));
  for (const c of COMMANDS) assert.match(overview.stdout, new RegExp(`^  ${c.name} +${escape(c.summary)}$`, 'm'));
  assert.ok(COMMANDS.length >= 7);
  for (const c of COMMANDS) {
    const help = retrace(dir, ['help', c.name]);
    assert.equal(help.status, 0, describeRun(help));
    assert.match(help.stdout, new RegExp(`^usage: retrace ${c.name}\\b`));
    for (const o of c.options) {
      const label = `${o.alias ? `${o.alias}, ` : '    '}${o.name}${o.value === undefined ? '' : o.optionalValue ? `[=${o.value}]` : ` ${o.value}`}`;
      assert.match(help.stdout, new RegExp(`^  ${escape(label)} +${escape(o.help.split('\n')[0]!)}$`, 'm'), `${c.name} ${o.name}`);
    }
    const dashed = retrace(dir, [c.name, '--help']);
    assert.equal(dashed.status, 0, describeRun(dashed));
    assert.equal(dashed.stdout, help.stdout);
  }
  // `record --help` is record's; after `--` it belongs to the recorded command.
  assert.match(retrace(dir, ['record', '-h']).stdout, /^usage: retrace record/);
});

test('the parser accepts every declared option, in each spelling, and nothing else', () => {
  for (const c of COMMANDS) {
    for (const o of c.options) {
      for (const spelling of [o.name, ...(o.alias ? [o.alias] : [])]) {
        const args = o.value === undefined || o.optionalValue ? [spelling] : [spelling, '7'];
        const parsed = parseArgs(c, args);
        assert.equal(parsed.has(o.name), true, `${c.name} ${spelling}`);
        if (o.value !== undefined && !o.optionalValue) assert.equal(parsed.value(o.name), '7');
        if (o.value !== undefined && spelling.startsWith('--')) assert.equal(parseArgs(c, [`${spelling}=8`]).value(o.name), '8');
      }
    }
    assert.throws(() => parseArgs(c, ['--no-such-option']), /unknown option/);
  }
});

test('show --kind: the help names kinds that exist, and every kind there is', () => {
  const help = retrace(workdir(), ['help', 'show']).stdout.replace(/\s+/g, ' ');
  const listed = /\(repeatable\): (.*?) -g, --grep/.exec(help)![1]!.split(', ');
  for (const name of listed) assert.ok(KIND_GROUPS[name], `${name} is a kind --kind accepts`);
  const reached = new Set(listed.flatMap((name) => KIND_GROUPS[name]!));
  for (const kind of new Set(Object.values(KIND_GROUPS).flat())) assert.ok(reached.has(kind), `the help names a way to show ${kind}`);
});

test('unknown commands and options get the nearest name', () => {
  const dir = workdir();
  const oneLine = (args: string[], pattern: RegExp) => {
    const r = retrace(dir, args);
    assert.equal(r.status, 2, describeRun(r));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), pattern);
  };
  oneLine(['reply'], /^retrace: unknown command "reply" \(did you mean replay\?\)/);
  oneLine(['shw'], /did you mean show\?/);
  oneLine(['frobnicate'], /^retrace: unknown command "frobnicate": see retrace --help$/);
  oneLine(['replay', '--proces', '1'], /unknown option for replay: --proces \(did you mean --process\?\)/);
  oneLine(['why', '--contrl'], /did you mean --control\?/);
  oneLine(['show', '--limt', '3'], /did you mean --limit\?/);
  oneLine(['record', '--froce', '--', 'node', 'x.js'], /did you mean --force\?/);
  oneLine(['help', 'reocrd'], /did you mean record\?/);
  oneLine(['info', '--json=yes'], /--json takes no value/);
  oneLine(['replay', '--stall-ms'], /--stall-ms needs a value/);
});

test('record and replay do not load the inspection commands', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': 'console.log(Math.random())' });
  const log = path.join(dir, 'loaded.txt');
  // A module hook in the CLI's own process notes every module it loads.
  const hook = `import { registerHooks } from 'node:module'; import { appendFileSync } from 'node:fs';
registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); } });`;
  const withHook = (args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, cli, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  };
  const rec = withHook(['record', '--', process.execPath, 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  const rep = withHook(['replay']);
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
  const loaded = fs.readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith('file:'));
  assert.ok(loaded.some((u) => u.endsWith('/dist/src/cli/replay.js')), 'the hook saw the CLI load');
  const inspection = loaded.filter((u) => /\/dist\/src\/(provenance|inspect)\/|\/dist\/src\/cli\/(show|print|why|vscode)\.js$/.test(u));
  assert.deepEqual(inspection, []);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
