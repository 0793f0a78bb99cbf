// Bad input to every command: one line on stderr starting "retrace:", a non-zero exit, no stack
// trace, no hang. Each row is a command line run against a small fixture folder, all at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, describeRun, retrace, runPlainAsync, workdir, writeFiles, type Run } from './helpers.js';

test('bad input to every command is one line and a non-zero exit', async () => {
  const dir = workdir('retrace-bad-input-');
  writeFiles(dir, { 'app.mjs': `console.log('hello');`, 'notrec/x.txt': 'hi', 'junk.retrace': 'not a pack\n', 'empty.rtrc': '' });
  fs.mkdirSync(path.join(dir, 'emptydir'));
  const rec = retrace(dir, ['record', '--', 'node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  fs.writeFileSync(path.join(dir, 'trunc.rtrc'), fs.readFileSync(path.join(dir, 'recording', 'p0.rtrc')).subarray(0, 100));
  const rows: [string[], RegExp][] = [
    [['pack', 'recording', '-o', 'nodir/x.retrace'], /cannot write nodir\/x\.retrace: nodir does not exist/],
    [['pack', 'recording', '-o', 'app.mjs/x.retrace'], /app\.mjs is not a folder/],
    [['pack', 'junk.retrace'], /./],
    [['unpack', 'junk.retrace'], /not a retrace pack/],
    [['unpack', 'recording'], /not a retrace pack/],
    [['unpack'], /unpack needs a file/],
    [['prune'], /prune needs at least one folder/],
    [['keygen', '-o', 'nodir/k'], /cannot write nodir\/k/],
    [['keygen', '-o', 'emptydir'], /already exists/],
    [['record'], /record needs a command/],
    [['why'], /why needs --at/],
    [['show', 'recording', '--limit', '-3'], /--limit takes a whole number/],
    [['show', 'recording', '--limit', 'abc'], /--limit takes a whole number/],
    [['replay', '--bogus'], /unknown option for replay: --bogus/],
    [['mcp', 'nosuch'], /no recording or folder at nosuch/],
    [['mcp', '--cwd', 'nosuch'], /--cwd nosuch is not a folder/],
    [['dap', '--port', 'abc'], /--port takes a whole number/],
    [['dap', 'nosuch', '--port', '0'], /no recording at nosuch/],
    [['dap', 'trunc.rtrc', '--port', '0'], /not a complete recording/],
    [['nosuchcommand'], /unknown command/],
  ];
  for (const command of ['replay', 'info', 'show', 'print', 'why', 'vscode', 'pack', 'mcp']) {
    for (const operand of ['nosuch', 'empty.rtrc', 'trunc.rtrc', 'junk.retrace', 'app.mjs', 'notrec', 'emptydir']) {
      // mcp serves a folder with no recordings in it (list_recordings answers none)
      if (command !== 'mcp' || !['notrec', 'emptydir'].includes(operand)) rows.push([[command, operand], /./]);
    }
  }
  // eight at a time: the machine is shared
  const runs: Run[] = [];
  for (let i = 0; i < rows.length; i += 8) {
    runs.push(...(await Promise.all(rows.slice(i, i + 8).map(([args]) => runPlainAsync(dir, [cli, ...args], { timeout: 30_000 })))));
  }
  rows.forEach(([args, pattern], i) => {
    const r = runs[i]!;
    const what = `retrace ${args.join(' ')}\n${describeRun(r)}`;
    assert.notEqual(r.status, 0, what);
    assert.notEqual(r.status, null, what);
    assert.doesNotMatch(r.stderr, /internal error|^\s+at /m, what);
    assert.match(r.stderr, /^retrace: [^\n]+\n$/, what);
    assert.match(r.stderr, pattern, what);
  });
});
