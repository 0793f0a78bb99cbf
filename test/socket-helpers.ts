// Test support for the socket layer (net, tls, http): recording a program while the test process
// (unrecorded) serves or calls it, a throwaway certificate, and checks that a replay used no sockets.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { assertReplaysFaithfully, cli, describeRun, replay, type Run } from './helpers.js';

/** Environment for a child: ours, without retrace variables or a test-runner context. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('RETRACE_')) delete env[key];
  delete env.NODE_TEST_CONTEXT;
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`;
  return { ...env, ...extra };
}

export interface Running {
  /** Resolves with the first stdout line matching `waitFor` (its first group). */
  ready: Promise<string>;
  /** Resolves when the process exits. */
  done: Promise<Run>;
}

/**
 * Starts `retrace record -- node <file>` (or `node <file>` with `plain`) in dir without blocking the
 * test process, which can then serve the program or call it.
 */
export function start(dir: string, file: string, opts: { env?: Record<string, string>; plain?: boolean; waitFor?: RegExp } = {}): Running {
  const args = opts.plain ? [file] : [cli, 'record', '--force', '--out', 'recording', '--', process.execPath, file];
  const child = spawn(process.execPath, args, { cwd: dir, env: childEnv(opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (stderr += c));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<Run>((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(killer);
      resolve({ status, signal, stdout, stderr });
    });
  });
  const waitFor = opts.waitFor ?? /^listening (\d+)$/m;
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: string) => {
      stdout += c;
      const m = waitFor.exec(stdout);
      if (m) resolve(m[1] ?? m[0]);
    });
    void done.then((r) => reject(new Error(`the program exited before it was ready\n${describeRun(r)}`)));
  });
  ready.catch(() => {});
  return { ready, done };
}

/** Runs a Node.js script (an unrecorded client) to completion without blocking the event loop. */
export function runNode(dir: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: dir, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** A self-signed certificate for localhost and 127.0.0.1, made with openssl: key.pem and cert.pem in dir. */
export function selfSignedCert(dir: string): void {
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl failed: ${r.stderr}`);
}

/** Moves files out of the way (certificates: replay must not need them). */
export function hide(dir: string, names: string[]): void {
  fs.mkdirSync(path.join(dir, 'hidden'), { recursive: true });
  for (const name of names) fs.renameSync(path.join(dir, name), path.join(dir, 'hidden', name));
}

/**
 * Programs print `resources: <kinds>` to stderr (live in both modes, stdio pipes left out) while
 * they hold sockets.
 * Recording shows real TCP handles; a replay must show none, nor any DNS request.
 */
export function assertNoRealSockets(rec: Run, rep: Run): void {
  const kinds = (run: Run) => [...run.stderr.matchAll(/^resources: (.*)$/gm)].map((m) => m[1]!);
  assert.ok(kinds(rec).some((k) => /TCP/.test(k)), `the recording should show real sockets\n${rec.stderr}`);
  assert.ok(kinds(rep).length > 0, `the replay should print its resources\n${rep.stderr}`);
  for (const k of kinds(rep)) assert.doesNotMatch(k, /TCP|PipeConnectWrap|GetAddrInfo|QueryReqWrap|TLS/, `replay used a real socket: ${k}`);
}

/** Replays offline `times` times and checks each replays faithfully (status 0 recorded). */
export function assertReplays(dir: string, rec: Run, times = 1): Run {
  assert.equal(rec.status, 0, describeRun(rec));
  return assertReplaysFaithfully(dir, rec, { times });
}

/** A replay of a changed program stops with a divergence (exit 86) whose report matches `report`. */
export function assertDiverges(dir: string, report: RegExp): Run {
  const rep = replay(dir, [], { offline: true });
  assert.equal(rep.status, 86, describeRun(rep));
  assert.match(rep.stderr, report);
  return rep;
}
