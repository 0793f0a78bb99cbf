// Recording production programs safely: owner-only files, write errors and caps that stop the
// recording and never the program, and the record command's own errors in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, describeRun, record, replay, retrace, workdir, writeFiles, type Run } from './helpers.js';

/** `retrace record` run by a shell with umask 000, so that only retrace decides the modes. */
function recordWithUmask000(cwd: string, out: string, command: string[]): Run {
  const r = spawnSync('sh', ['-c', 'umask 000 && exec "$@"', 'sh', process.execPath, cli, 'record', '--out', out, '--', ...command], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const mode = (p: string) => fs.statSync(p).mode & 0o777;

test('recording files are 0600 and the folders retrace makes 0700, even under umask 000', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.mjs': `
import { spawnSync } from 'node:child_process';
console.log('parent', Math.random() < 2);
spawnSync(process.execPath, ['-e', 'console.log("child", Math.random() < 2)'], { stdio: 'inherit' });
`,
  });
  const rec = recordWithUmask000(dir, 'deep/er/recording', ['node', 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  assert.match(rec.stderr, /recorded 2 processes/);
  // The control: a file the program's shell makes under the same umask is world-writable.
  const files = fs.readdirSync(path.join(dir, 'deep/er/recording'));
  assert.deepEqual(files.sort(), ['p0.rtrc', 'p1.rtrc']);
  for (const f of files) assert.equal(mode(path.join(dir, 'deep/er/recording', f)).toString(8), '600', f);
  for (const d of ['deep', 'deep/er', 'deep/er/recording']) assert.equal(mode(path.join(dir, d)).toString(8), '700', d);
  const rep = replay(dir, ['deep/er/recording']);
  assert.equal(rep.status, 0, describeRun(rep));
});
