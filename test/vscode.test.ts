// `retrace vscode [DIR]`: the launch configuration it writes into .vscode/launch.json, merged with
// what is there, and its answers to bad input. (That the configuration debugs a replay is tested
// in debugger.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, record, retrace, workdir, writeFiles } from './helpers.js';

interface Launch {
  version: string;
  configurations: Array<Record<string, unknown> & { name: string }>;
  compounds?: unknown;
}

function recorded(): string {
  const dir = workdir('retrace-vscode-');
  writeFiles(dir, { 'app.mjs': 'console.log(Math.random());\n' });
  const rec = record(dir, [process.execPath, 'app.mjs']);
  assert.equal(rec.status, 0, describeRun(rec));
  return dir;
}

const readLaunch = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, '.vscode', 'launch.json'), 'utf8')) as Launch;

test('writes a node launch configuration that runs retrace replay DIR from the workspace folder', () => {
  const dir = recorded();
  const r = retrace(dir, ['vscode']);
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stdout, /configuration "retrace: replay recording" added to \.vscode\/launch\.json/);
  assert.match(r.stdout, /press F5/);
  const launch = readLaunch(dir);
  assert.equal(launch.version, '0.2.0');
  assert.equal(launch.configurations.length, 1);
  const config = launch.configurations[0]!;
  assert.equal(config.type, 'node');
  assert.equal(config.request, 'launch');
  assert.match(String(config.program), /bin\/retrace\.js$/);
  assert.ok(fs.existsSync(String(config.program)), `${config.program} exists`);
  assert.deepEqual(config.args, ['replay', 'recording']);
  // Its Node.js can run retrace (22.15 or newer), whatever node the PATH has.
  const runtime = String(config.runtimeExecutable);
  assert.ok(path.isAbsolute(runtime) && fs.existsSync(runtime), runtime);
  const [major, minor] = spawnSync(runtime, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim().split('.').map(Number);
  assert.ok(major! > 22 || (major === 22 && minor! >= 15), `${runtime} is Node.js ${major}.${minor}`);
  assert.equal(config.cwd, '${workspaceFolder}');
  assert.equal(config.autoAttachChildProcesses, true);
  assert.equal(config.sourceMaps, true);
  assert.ok((config.skipFiles as string[]).includes('<node_internals>/**'));
  // The printed configuration is the one written.
  assert.ok(r.stdout.includes(JSON.stringify(config, null, 2)));
});

test('keeps the other configurations, replaces its own by name, and a second run changes nothing', () => {
  const dir = recorded();
  writeFiles(dir, {
    '.vscode/launch.json': `{
  // Written by hand: the comments cannot survive a rewrite, the file is kept as launch.json.bak.
  "version": "0.2.0",
  "configurations": [
    { "type": "node", "request": "launch", "name": "Launch app", "program": "\${workspaceFolder}/app.mjs", },
    { "type": "node", "request": "launch", "name": "retrace: replay recording", "program": "old", "args": ["// not a comment", "/* nor this */"] },
  ],
  "compounds": [],
}
`,
  });
  const first = retrace(dir, ['vscode', 'recording']);
  assert.equal(first.status, 0, describeRun(first));
  assert.match(first.stdout, /replaced in \.vscode\/launch\.json/);
  assert.match(first.stdout, /launch\.json\.bak/);
  assert.match(fs.readFileSync(path.join(dir, '.vscode', 'launch.json.bak'), 'utf8'), /Written by hand/);
  const launch = readLaunch(dir);
  assert.deepEqual(
    launch.configurations.map((c) => c.name),
    ['Launch app', 'retrace: replay recording'],
  );
  assert.equal(launch.configurations[0]!.program, '${workspaceFolder}/app.mjs');
  assert.notEqual(launch.configurations[1]!.program, 'old');
  assert.deepEqual(launch.compounds, []);

  const before = fs.readFileSync(path.join(dir, '.vscode', 'launch.json'), 'utf8');
  const second = retrace(dir, ['vscode', './recording/']);
  assert.equal(second.status, 0, describeRun(second));
  assert.match(second.stdout, /already in \.vscode\/launch\.json/);
  assert.equal(fs.readFileSync(path.join(dir, '.vscode', 'launch.json'), 'utf8'), before);
});

test('a second recording gets a configuration of its own', () => {
  const dir = recorded();
  const again = record(dir, [process.execPath, 'app.mjs'], { out: 'recordings/second' });
  assert.equal(again.status, 0, describeRun(again));
  assert.equal(retrace(dir, ['vscode']).status, 0);
  assert.equal(retrace(dir, ['vscode', 'recordings/second']).status, 0);
  const launch = readLaunch(dir);
  assert.deepEqual(
    launch.configurations.map((c) => [c.name, (c.args as string[])[1]]),
    [
      ['retrace: replay recording', 'recording'],
      ['retrace: replay recordings/second', 'recordings/second'],
    ],
  );
});

test('bad input: a clear one-line error, non-zero status, and launch.json left alone', () => {
  const dir = recorded();
  const cases: Array<[string[], RegExp]> = [
    [['vscode', 'nowhere'], /^retrace: no recording at nowhere\n$/],
    [['vscode', 'app.mjs'], /^retrace: .*/],
    [['vscode', '--port', '3'], /^retrace: unknown option for vscode: --port/],
    [['vscode', 'recording', 'other'], /^retrace: vscode takes one recording folder/],
  ];
  for (const [args, message] of cases) {
    const r = retrace(dir, args);
    assert.notEqual(r.status, 0, `${args.join(' ')}: ${describeRun(r)}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.ok(!fs.existsSync(path.join(dir, '.vscode')), `${args.join(' ')} wrote nothing`);
  }

  // A launch.json that is not JSON is not overwritten.
  writeFiles(dir, { '.vscode/launch.json': '{ "configurations": [ oops ] }' });
  const broken = retrace(dir, ['vscode']);
  assert.equal(broken.status, 2, describeRun(broken));
  assert.match(broken.stderr, /^retrace: \.vscode\/launch\.json is not valid JSON .*fix it or move it away/);
  assert.equal(fs.readFileSync(path.join(dir, '.vscode', 'launch.json'), 'utf8'), '{ "configurations": [ oops ] }');

  // A recording made elsewhere: its program is not in this folder.
  const elsewhere = workdir('retrace-vscode-');
  fs.cpSync(path.join(dir, 'recording'), path.join(elsewhere, 'recording'), { recursive: true });
  const moved = retrace(elsewhere, ['vscode']);
  assert.equal(moved.status, 2, describeRun(moved));
  assert.match(moved.stderr, /^retrace: the recorded program .* is not here/);
});
