// `retrace mcp` driven by the MCP SDK's own client over stdio, as an agent's host runs it, on the
// recordings of the two demos (the shop on a real PostgreSQL, the AI agent that crashes) and on a
// program changed since it was recorded. Every expected value is what the recorded run itself did
// (the demos' printed orders, the agent's four model answers), not what the server said before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import pg from 'pg';
import { cli, record, repoRoot, retrace, workdir, writeFiles } from './helpers.js';
import { skipUnlessServer, uniqueName } from './network-helpers.js';

interface ToolAnswer {
  text: string;
  isError: boolean;
}

const env = (): Record<string, string> => {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('RETRACE_') && k !== 'NODE_TEST_CONTEXT') e[k] = v;
  e.PATH = `${path.dirname(process.execPath)}${path.delimiter}${e.PATH ?? ''}`;
  return e;
};

function runDemo(script: string, args: string[], extra: Record<string, string> = {}): void {
  const r = spawnSync(process.execPath, [path.join(repoRoot, script), ...args], { cwd: repoRoot, env: { ...env(), ...extra }, encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
}

const folder = path.join(workdir('retrace-mcp-'), 'recordings');
let shopSkip: string | undefined;
let database: string | null = null;
let client: Client;
let stderr = '';

async function call(name: string, args: Record<string, unknown>): Promise<ToolAnswer> {
  const r = (await client.callTool({ name, arguments: args })) as { content: { type: string; text: string }[]; isError?: boolean };
  return { text: r.content.map((c) => c.text).join('\n'), isError: r.isError === true };
}

/** A tool's JSON answer; the test fails with the error text when the tool answered an error. */
async function callJson(name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
  const r = await call(name, args);
  assert.equal(r.isError, false, `${name} answered an error: ${r.text}`);
  return JSON.parse(r.text) as Record<string, any>;
}

/** A tool error: one sentence, no stack. */
async function callError(name: string, args: Record<string, unknown>, pattern: RegExp): Promise<void> {
  const r = await call(name, args);
  assert.equal(r.isError, true, `${name} should have failed: ${r.text}`);
  assert.match(r.text, pattern);
  assert.doesNotMatch(r.text, /\n|\bat .*:\d+:\d+\)/, r.text);
}

before(async () => {
  fs.mkdirSync(folder, { recursive: true });
  runDemo('examples/ai-agent/demo.mjs', ['--out', path.join(folder, 'agent')]);
  // The same recording as a pack (a snapshot of the project with it), which replays from any folder.
  fs.mkdirSync(path.join(folder, 'packs'));
  const packed = retrace(repoRoot, ['pack', path.join(folder, 'agent'), '-o', path.join(folder, 'packs', 'agent.retrace')]);
  assert.equal(packed.status, 0, packed.stderr);

  shopSkip = await skipUnlessServer('PostgreSQL', 5432);
  if (!shopSkip) {
    // A database of its own: the demo replaces its shop_* tables, and other tests run at the same time.
    database = uniqueName('retrace_mcp');
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    runDemo('examples/shop/scripts/demo.mjs', ['--out', path.join(folder, 'shop')], { DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}` });
  }

  // A program changed after it was recorded: it now asks for randomness where it read the clock.
  // Recorded from another folder than the program's, so that its path stays absolute in replay.
  const app = workdir('retrace-mcp-changed-');
  writeFiles(app, { 'app.mjs': 'const t = Date.now();\nconst r = Math.random();\nconsole.log(t, r);\n' });
  const rec = record(workdir('retrace-mcp-cwd-'), ['node', path.join(app, 'app.mjs')], { out: path.join(folder, 'changed') });
  assert.equal(rec.status, 0, rec.stderr);
  writeFiles(app, { 'app.mjs': 'const r = Math.random();\nconst t = Date.now();\nconsole.log(t, r);\n' });

  // Started elsewhere and told the project folder with --cwd, as the editor configurations in
  // docs/mcp.md do: replays run there. --trust: the changed program lives outside the project.
  const transport = new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', folder, '--cwd', repoRoot, '--trust'], cwd: folder, env: env(), stderr: 'pipe' });
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  client = new Client({ name: 'retrace-test', version: '1.0.0' });
  await client.connect(transport);
});

after(async () => {
  await client?.close();
  if (database) {
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.end();
  }
});

describe('retrace mcp: the recordings of a folder', () => {
  test('tools are listed, and the recordings are resources whose contents are their processes', async () => {
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, ['evaluate', 'event', 'failures', 'last_write', 'list_recordings', 'logpoint', 'overview', 'replay', 'source', 'timeline', 'why']);
    const resources = (await client.listResources()).resources;
    const names = resources.map((r) => r.name).sort();
    assert.deepEqual(names, shopSkip ? ['agent', 'changed', 'packs/agent.retrace'] : ['agent', 'changed', 'packs/agent.retrace', 'shop']);
    const agent = resources.find((r) => r.name === 'agent')!;
    const read = await client.readResource({ uri: agent.uri });
    const body = JSON.parse((read.contents[0] as { text: string }).text);
    assert.equal(body.processes.length, 1);
    assert.match(body.processes[0].command, /examples\/ai-agent\/agent\.mjs$/);
    assert.equal(body.processes[0].end, 'exit status 1');
  });

  test('a recording must be named when there are several; errors are one sentence', async () => {
    await callError('overview', {}, /there are [34] recordings/);
    await callError('overview', { recording: 'nope' }, /no recording named "nope"/);
    await callError('event', { recording: 'agent', event: 99999 }, /event 99999 is not in this recording \(process 0 has \d+ events/);
    await callError('timeline', { recording: 'agent', kind: 'bogus' }, /unknown kind "bogus"/);
    await callError('logpoint', { recording: 'agent', at: 'examples/ai-agent/agent.mjs:48', expr: 'run' }, /agent\.mjs:48 never ran in this recording/);
    await callError('logpoint', { recording: 'agent', at: 'examples/ai-agent/agent.mjs:36', expr: 'answer +' }, /is not a JavaScript expression/);
    await callError('source', { recording: 'agent', file: 'examples/shop/src/pricing.ts' }, /did not run in this recording/);
  });
});

describe('retrace mcp on the AI agent demo (crashes on a prose answer)', () => {
  test('overview: the command, the exit status and the crash with its message', async () => {
    const o = await callJson('overview', { recording: 'agent' });
    const p = o.processes[0];
    assert.match(p.command, /^node .*examples\/ai-agent\/agent\.mjs$/);
    assert.equal(p.end, 'exit status 1');
    assert.match(p.crash, /^SyntaxError: Unexpected token 'S', "Sure! This"\.\.\. is not valid JSON/);
    assert.ok(p.durationMs > 0);
    assert.match(p.redaction, /^secrets redacted at record time/);
  });

  test('failures: the uncaught exception with its stack and event', async () => {
    const f = await callJson('failures', { recording: 'agent' });
    const crashes = f.failures.filter((x: { type: string }) => x.type === 'uncaught exception');
    assert.equal(crashes.length, 1, JSON.stringify(f));
    assert.match(crashes[0].stack, /at classify \(file:\/\/.*agent\.mjs:36:\d+\)/);
    assert.equal(f.failures.length, 1, JSON.stringify(f));
    const ev = await call('event', { recording: 'agent', event: crashes[0].event });
    assert.match(ev.text, /the process ended with an uncaught exception \(event \d+\), exit status 1/);
  });

  test('timeline: the four requests to the model API, paged', async () => {
    const first = await callJson('timeline', { recording: 'agent', kind: 'http.out', limit: 3 });
    assert.equal(first.entries.length, 3);
    assert.match(first.next, /offset: 3/);
    const rest = await callJson('timeline', { recording: 'agent', kind: 'http.out', limit: 3, offset: 3 });
    assert.equal(rest.entries.length, 1);
    assert.match(rest.next, /last entry/);
    const all = [...first.entries, ...rest.entries];
    for (const e of all) assert.match(e.summary, /^POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions → 200/);
    assert.deepEqual(all.map((e) => e.event), [...new Set(all.map((e) => e.event))].sort((a, b) => a - b));
  });

  test('logpoint: the model\'s answer at every hit, paged; the last is the prose that broke JSON.parse', async () => {
    const page = await callJson('logpoint', { recording: 'agent', at: 'examples/ai-agent/agent.mjs:36', expr: 'answer', limit: 3 });
    assert.deepEqual(page.hits.map((h: { hit: number }) => h.hit), [1, 2, 3]);
    assert.deepEqual(page.hits.map((h: { value: string }) => JSON.parse(JSON.parse(h.value)).label), ['billing', 'bug', 'account']);
    assert.match(page.next, /offset: 3/);
    const last = await callJson('logpoint', { recording: 'agent', at: 'examples/ai-agent/agent.mjs:36', expr: 'answer', offset: 3 });
    assert.equal(last.hits.length, 1);
    assert.match(last.hits[0].value, /^"Sure! This message looks like/);
    assert.equal(last.totalHits, 4);
  });

  test('evaluate: locals at one hit and an expression; a call that would change the program is refused', async () => {
    const r = await callJson('evaluate', { recording: 'agent', at: 'examples/ai-agent/agent.mjs:36', hit: 4, expr: 'answer.startsWith("Sure")' });
    assert.equal(r.value, 'true');
    const message = r.locals.find((v: { name: string }) => v.name === 'message');
    assert.match(message.value, /id: "m-104"/);
    const refused = await callJson('evaluate', { recording: 'agent', at: 'examples/ai-agent/agent.mjs:36', hit: 4, expr: 'Date.now()' });
    assert.match(refused.refused, /could change the program/);
    assert.equal(refused.value, undefined);
  });

  test('why: the answer came from the model API\'s response body', async () => {
    const w = await callJson('why', { recording: 'agent', at: 'examples/ai-agent/agent.mjs:36', expr: 'answer' });
    assert.equal(w.hit, 4);
    assert.ok(w.origins.some((o: string) => /HTTP response \(200 OK\) to POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions, body, JSON \$\.choices\[0\]\.message\.content/.test(o)), JSON.stringify(w.origins));
  });

  test('last_write: the answer was stored by the declaration that awaited askModel', async () => {
    const w = await callJson('last_write', { recording: 'agent', at: 'examples/ai-agent/agent.mjs:36', hit: 4, expr: 'answer' });
    assert.match(w.value, /^"Sure! This message/);
    assert.equal(w.stored, 'examples/ai-agent/agent.mjs:35:9');
    assert.equal(w.op, 'await');
  });

  test('source: each line\'s hit count, as the run went (four messages, the fourth crashed)', async () => {
    const s = await call('source', { recording: 'agent', file: 'examples/ai-agent/agent.mjs' });
    assert.equal(s.isError, false, s.text);
    const count = (line: number) => new RegExp(`^ +${line} +(\\S+) \\|`, 'm').exec(s.text)?.[1];
    assert.equal(count(1), '-'); // a comment
    assert.equal(count(35), '4'); // askModel for each message
    assert.equal(count(40), '1'); // the run id, once
    assert.equal(count(46), '3'); // printed for the three messages before the crash
    assert.equal(count(48), '0'); // "done" never printed
  });

  test('replay: it still replays, crashing as recorded', async () => {
    const r = await callJson('replay', { recording: 'agent' });
    assert.equal(r.replays, true, JSON.stringify(r));
    assert.equal(r.exit, 'exit status 1');
    assert.equal(r.recorded, 'exit status 1');
  });
});

describe('retrace mcp on a pack of the AI agent recording', () => {
  test('source and replay run in the pack\'s snapshot of the project', async () => {
    const s = await call('source', { recording: 'packs/agent.retrace', file: 'examples/ai-agent/agent.mjs', fromLine: 46, limit: 3 });
    assert.equal(s.isError, false, s.text);
    assert.match(s.text, /^ +46 +3 \| +console\.log/m);
    assert.match(s.text, /^ +48 +0 \| console\.log\(`run \$\{run\}: done`\);$/m);
    const r = await callJson('replay', { recording: 'packs/agent.retrace' });
    assert.equal(r.replays, true, JSON.stringify(r));
  });
});

describe('retrace mcp on a program changed since it was recorded', () => {
  test('replay: does not replay, with the divergence report naming both calls and the line', async () => {
    const r = await callJson('replay', { recording: 'changed' });
    assert.equal(r.replays, false);
    assert.equal(r.exit, 'exit status 86');
    assert.match(r.report.join('\n'), /replay diverged: event \d+: the recording has time\.Date\.now\(\)[^\n]*\n {2}the program attempted random\.Math\.random\(\)\n {2}at .*app\.mjs:1:\d+/);
    assert.match(r.warnings.join('\n'), /app\.mjs changed since it was recorded/);
  });
});

describe('retrace mcp on the shop demo (Express and PostgreSQL)', () => {
  test('timeline: the seven orders, paged, and one exchange in full', async (t) => {
    if (shopSkip) return t.skip(shopSkip);
    const pages: any[] = [];
    let offset = 0;
    for (;;) {
      const p = await callJson('timeline', { recording: 'shop', kind: 'http.in', limit: 3, offset });
      pages.push(...p.entries);
      if (!/^more/.test(p.next)) break;
      offset += p.entries.length;
    }
    assert.deepEqual(pages.map((e) => e.summary.replace(/ \(.*\)$/, '')), [...Array(6).fill('POST /orders → 201'), 'POST /orders → 400']);
    const third = await call('event', { recording: 'shop', event: pages[2].event });
    assert.match(third.text, /"coupon": "LOYAL1"/);
    assert.match(third.text, /"total": 0,/);
  });

  test('failures: none (a refused coupon is a 400, and the server stopped cleanly)', async (t) => {
    if (shopSkip) return t.skip(shopSkip);
    const f = await callJson('failures', { recording: 'shop' });
    assert.deepEqual(f.failures, []);
    assert.match(f.note, /no failures/);
  });

  test('logpoint on a .ts line: the total of every priced order, as the server printed them', async (t) => {
    if (shopSkip) return t.skip(shopSkip);
    const l = await callJson('logpoint', { recording: 'shop', at: 'examples/shop/src/orders.ts:54', expr: 'priced.total' });
    assert.deepEqual(l.hits.map((h: { value: string }) => h.value), ['49.8', '48.6', '0', '15', '29.25', '0']);
  });

  test('evaluate in pricing.ts at the third order: the locals that make the total 0', async (t) => {
    if (shopSkip) return t.skip(shopSkip);
    const e = await callJson('evaluate', { recording: 'shop', at: 'examples/shop/src/pricing.ts:53', hit: 3, expr: 'rate' });
    assert.equal(e.value, '1');
    const local = (name: string) => e.locals.find((v: { name: string }) => v.name === name)?.value;
    assert.equal(local('subtotalCents'), '3615');
    assert.equal(local('discountCents'), '3615');
  });

  test('why: the 0.00 total goes back to the LOYAL1 coupon row; a cut node expands by its id', async (t) => {
    if (shopSkip) return t.skip(shopSkip);
    const args = { recording: 'shop', at: 'examples/shop/src/orders.ts:54', expr: 'priced.total', hit: 3, maxNodes: 4 };
    const w = await callJson('why', args);
    assert.equal(w.value, '0');
    assert.ok(w.origins.some((o: string) => /PostgreSQL `SELECT code, percent FROM shop_coupons WHERE code = \$1` \['LOYAL1'\], row 0, column percent/.test(o)), JSON.stringify(w.origins));
    const nodes: any[] = [];
    const walk = (n: any) => {
      nodes.push(n);
      (n.inputs ?? []).forEach(walk);
    };
    walk(w.lineage);
    assert.equal(nodes.length, 4);
    const cut = nodes.find((n) => n.more > 0);
    assert.ok(cut, JSON.stringify(w.lineage));
    const expanded = await callJson('why', { ...args, node: cut.id });
    assert.equal(expanded.lineage.id, cut.id);
    assert.equal(expanded.lineage.value, cut.value);
    assert.ok(expanded.lineage.inputs.length > 0);
    assert.ok(expanded.lineage.inputs.every((n: { id: string }) => n.id.startsWith(`${cut.id}.`)));
  });

  test('last_write in a .ts file: the 0 total was stored by its declaration, made by the subtraction', async (t) => {
    if (shopSkip) return t.skip(shopSkip);
    const w = await callJson('last_write', { recording: 'shop', at: 'examples/shop/src/pricing.ts:54', hit: 3, expr: 'totalCents' });
    assert.equal(w.value, '0');
    assert.equal(w.stored, 'examples/shop/src/pricing.ts:53:9');
    assert.equal(w.op, '-');
    assert.equal(w.made, 'examples/shop/src/pricing.ts:53:22');
  });

  test('source of a .ts file through its source map: the hit counts of the pricing code', async (t) => {
    if (shopSkip) return t.skip(shopSkip);
    const s = await call('source', { recording: 'shop', file: 'examples/shop/src/pricing.ts' });
    assert.equal(s.isError, false, s.text);
    const count = (line: number) => new RegExp(`^ +${line} +(\\S+) \\|`, 'm').exec(s.text)?.[1];
    assert.equal(count(5), '-'); // an interface's member: no code
    assert.equal(count(28), '0'); // UnknownProductError: never thrown
    assert.equal(count(33), '9'); // toCents: nine order lines in the six priced orders
    assert.equal(count(41), '5'); // discountRate: five orders had a coupon that exists
    assert.equal(count(44), '6'); // priceOrder: six orders priced (FREEBIE was refused before)
  });

  test('replay: it still replays with the database gone', async (t) => {
    if (shopSkip) return t.skip(shopSkip);
    const r = await callJson('replay', { recording: 'shop' });
    assert.equal(r.replays, true, JSON.stringify(r));
    assert.equal(r.exit, 'exit status 0');
  });
});

test('the server said nothing alarming on stderr', () => {
  assert.doesNotMatch(stderr, /internal error|Error:/, stderr);
});
