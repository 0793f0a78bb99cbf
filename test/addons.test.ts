// Native addons: every `.node` file the process loads is listed in the recording (`retrace info`),
// and record and replay each warn once, by name, that no boundary covers it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describeRun, record, replay, repoRoot, retrace, workdir, writeFiles } from './helpers.js';

const bcrypt = path.join(repoRoot, 'node_modules', 'bcrypt');

test('a loaded native addon is listed by info and named, once, by a warning in record and replay', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      const bcrypt = require(${JSON.stringify(bcrypt)});
      require(${JSON.stringify(bcrypt)}); // loaded again: no second warning
      const hash = bcrypt.hashSync('secret', 4);
      console.log('hashed', hash.length, bcrypt.compareSync('secret', hash));
    `,
  });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.equal(rec.stdout, 'hashed 60 true\n');
  const warning = /retrace: warning: native addon bcrypt \((\S+\.node)\) has no boundary; a replay runs it live: values may differ and it may touch files or devices\n/g;
  const warned = [...rec.stderr.matchAll(warning)];
  assert.equal(warned.length, 1, describeRun(rec));
  const addonFile = warned[0]![1]!;
  assert.ok(addonFile.startsWith(path.join(bcrypt, path.sep)), addonFile);

  const info = retrace(dir, ['info', 'recording', '--json']);
  assert.equal(info.status, 0, describeRun(info));
  const processes = JSON.parse(info.stdout) as { addons: { name: string; file: string }[] }[];
  assert.deepEqual(processes[0]!.addons, [{ name: 'bcrypt', file: addonFile }]);
  const text = retrace(dir, ['info', 'recording']);
  assert.match(text.stdout, new RegExp(`native addons \\(no boundary: a replay runs them live\\):\\n    bcrypt: ${addonFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n`));

  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 0, describeRun(rep));
  assert.equal(rep.stdout, rec.stdout);
  const replayWarning = `retrace: warning: native addon bcrypt (${addonFile}) has no boundary; this replay runs it live: values may differ from the recording and it may touch files or devices\n`;
  assert.equal(rep.stderr.split(replayWarning).length - 1, 1, describeRun(rep));
});

test('a program with no native addon lists none and warns of none', () => {
  const dir = workdir();
  writeFiles(dir, { 'app.js': `console.log(require('node:crypto').createHash('sha256').update('x').digest('hex').length);` });
  const rec = record(dir, ['node', 'app.js']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.doesNotMatch(rec.stderr, /native addon/);
  const info = retrace(dir, ['info', 'recording', '--json']);
  assert.deepEqual((JSON.parse(info.stdout) as { addons: unknown[] }[])[0]!.addons, []);
  assert.doesNotMatch(retrace(dir, ['info', 'recording']).stdout, /native addons/);
});
