// Paired feature tests for `retrace why`: for each language feature a *dependent* case whose lineage
// must include a given recorded input, and an *independent* case whose lineage must not, although
// that input flows right next to it (same object, function, closure, array, stream, request
// handler). An implementation that links everything to everything fails the independent cases;
// one that drops edges fails the dependent ones. Each program prints its values as JSON, so the
// test also checks that `why` shows the value the program computed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { describeRun, repoRoot, workdir, writeFiles } from './helpers.js';
import { libraryWorkdir, request, startServer } from './network-helpers.js';
import {
  assertExcludes,
  assertIncludes,
  assertNoValueContaining,
  assertShows,
  assertWellFormed,
  checkAnswer,
  compileTypeScript,
  envVar,
  expectWhys,
  lastJsonLine,
  lineOf,
  literalNumber,
  matches,
  nodes,
  originEvents,
  randomResult,
  recordAsync,
  recordProgram,
  renderTree,
  retraceAsync,
  whyAsync,
  whyArgs,
  whyMeasured,
  type LineageNode,
  type OriginMatcher,
  type WhyResult,
} from './provenance-helpers.js';

const ALPHA = envVar('ALPHA');
const BETA = envVar('BETA');
const NUMBERS = { ALPHA: '7', BETA: '5' };
const WORDS = { ALPHA: 'red', BETA: 'blue' };

/** `file:line` of the line marked `// @marker` in source. */
const at = (file: string, source: string, marker = 'at') => `${file}:${lineOf(source, marker)}`;

describe('assignment', () => {
  const program = `
const a = Number(process.env.ALPHA);
const b = Number(process.env.BETA);
let x = a;
let y = x;
let chained = y;
chained += b;
chained *= 2;
let overwritten = a;
overwritten = b * 3;
let kept = b;
kept -= 1;
kept **= 2;
kept ||= a;
kept ??= a;
let text = 'n=';
text += b;
console.log(JSON.stringify({ chained, overwritten, kept, text })); // @at
`;

  test('assignment chains and compound operators carry both inputs; an overwritten or short-circuited input is gone', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: NUMBERS });
    assert.deepEqual(printed, { chained: 24, overwritten: 15, kept: 16, text: 'n=5' });
    const here = at('app.mjs', program);
    await expectWhys(dir, [
      { at: here, expr: 'chained', value: 24, includes: [ALPHA, BETA] },
      { at: here, expr: 'overwritten', value: 15, includes: [BETA, literalNumber(3)], excludes: [ALPHA] },
      { at: here, expr: 'kept', value: 16, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'text', value: 'n=5', includes: [BETA], excludes: [ALPHA] },
    ]);
  });
});

describe('destructuring and spread', () => {
  const objectProgram = `
const a = process.env.ALPHA;
const b = process.env.BETA;
const source = { first: a, second: b, extra: a + '!' };
const { first: renamed, second, missing = b, ...rest } = source;
const restExtra = rest.extra;
const spread = { ...source, first: b };
const overridden = spread.first;
console.log(JSON.stringify({ renamed, second, missing, restExtra, overridden })); // @at
`;

  test('object destructuring: renames and rest keep their input; a default and a spread override do not pick up the sibling', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': objectProgram }, { env: WORDS });
    assert.deepEqual(printed, { renamed: 'red', second: 'blue', missing: 'blue', restExtra: 'red!', overridden: 'blue' });
    const here = at('app.mjs', objectProgram);
    await expectWhys(dir, [
      { at: here, expr: 'renamed', value: 'red', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'restExtra', value: 'red!', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'missing', value: 'blue', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'overridden', value: 'blue', includes: [BETA], excludes: [ALPHA] },
    ]);
  });

  const arrayProgram = `
const a = process.env.ALPHA;
const b = process.env.BETA;
const [head, fallback = a, ...tail] = [b, undefined, a, b];
const list = [...tail, 'z'];
const fromSpread = list[1];
function describe({ second: s, first }, [, pick] = [a, b], ...others) {
  return s + '/' + pick + '/' + others.length;
}
const fromParams = describe({ first: a, second: b });
console.log(JSON.stringify({ head, fallback, fromSpread, fromParams })); // @at
`;

  test('array destructuring, rest, spread and destructured parameters with defaults', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': arrayProgram }, { env: WORDS });
    assert.deepEqual(printed, { head: 'blue', fallback: 'red', fromSpread: 'blue', fromParams: 'blue/blue/0' });
    const here = at('app.mjs', arrayProgram);
    await expectWhys(dir, [
      { at: here, expr: 'fallback', value: 'red', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'head', value: 'blue', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'fromSpread', value: 'blue', includes: [BETA], excludes: [ALPHA] },
    ]);
    // `first` is destructured but unused, and the default array's element 0 is skipped.
    await expectWhys(dir, [
      { at: here, expr: 'fromParams', value: 'blue/blue/0', includes: [BETA], excludes: [ALPHA] },
    ]);
  });
});

describe('JSON.parse paths', () => {
  const builtProgram = `
const text = '{"a": ' + process.env.ALPHA + ', "b": {"c": ' + process.env.BETA + ', "d": [1, 2]}}';
const doc = JSON.parse(text);
const a = doc.a;
const c = doc.b.c;
const copy = JSON.parse(JSON.stringify(doc.b));
const roundTrip = copy.c;
console.log(JSON.stringify({ a, c, roundTrip })); // @at
`;

  test('JSON text built from two inputs: a parsed member comes from its own input, not its sibling', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': builtProgram }, { env: NUMBERS });
    assert.deepEqual(printed, { a: 7, c: 5, roundTrip: 5 });
    const here = at('app.mjs', builtProgram);
    await expectWhys(dir, [
      { at: here, expr: 'a', value: 7, includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'c', value: 5, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'roundTrip', value: 5, includes: [BETA], excludes: [ALPHA] },
    ]);
  });

  const fileProgram = `
import fs from 'node:fs';
const doc = JSON.parse(fs.readFileSync('data.json', 'utf8'));
const c = doc.b.c;
const second = doc.list[1];
console.log(JSON.stringify({ c, second })); // @at
`;
  const fileData = '{"a": 7, "b": {"c": 5, "d": 6}, "list": [10, 20, 30]}\n';
  /** The file's origin at JSON path `jsonPath` (`$.b.c`; array indexes as `[1]` or `.1`). */
  const fileAt = (jsonPath: RegExp): OriginMatcher => ({ kind: 'file', detail: [/data\.json/, jsonPath], label: `file data.json at ${jsonPath}` });
  const anyPathUnder = (member: string): OriginMatcher => ({
    kind: 'file',
    detail: new RegExp(`\\$\\.${member}(?![\\w])`),
    label: `file data.json at $.${member} or below`,
  });

  test('JSON read from a file: the origin names the member path and no sibling path', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': fileProgram, 'data.json': fileData });
    assert.deepEqual(printed, { c: 5, second: 20 });
    const here = at('app.mjs', fileProgram);
    await expectWhys(dir, [
      {
        at: here,
        expr: 'c',
        value: 5,
        includes: [fileAt(/\$\.b\.c(?![\w.[])/)],
        excludes: [anyPathUnder('a'), anyPathUnder('list'), { kind: 'file', detail: /\$\.b\.d/, label: 'the sibling $.b.d' }],
      },
      {
        at: here,
        expr: 'second',
        value: 20,
        includes: [fileAt(/\$\.list(\[1\]|\.1)(?![\w.[])/)],
        excludes: [anyPathUnder('a'), anyPathUnder('b'), { kind: 'file', detail: /\$\.list(\[[02]\]|\.[02])/, label: 'the other list elements' }],
      },
    ]);
  });

  const fetchProgram = `
const response = await fetch(process.env.DATA_URL);
const doc = await response.json();
const c = doc.b.c;
const a = doc.a;
console.log(JSON.stringify({ c, a })); // @at
`;

  test('JSON of an HTTP response read with fetch and response.json(): member paths, siblings excluded', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"a": 7, "b": {"c": 5}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const dir = workdir('retrace-why-');
    writeFiles(dir, { 'app.mjs': fetchProgram });
    let rec;
    try {
      rec = await recordAsync(dir, 'app.mjs', { DATA_URL: `http://127.0.0.1:${port}/data` });
    } finally {
      server.close();
    }
    assert.equal(rec.status, 0, describeRun(rec));
    assert.deepEqual(lastJsonLine(rec), { c: 5, a: 7 });
    const here = at('app.mjs', fetchProgram);
    const response = (jsonPath: RegExp, label: string): OriginMatcher => ({ kind: 'http.response', detail: jsonPath, label });
    await expectWhys(dir, [
      {
        at: here,
        expr: 'c',
        value: 5,
        includes: [response(/\$\.b\.c(?![\w.[])/, 'the response at $.b.c')],
        excludes: [response(/\$\.a(?!\w)/, 'the response at $.a')],
      },
      {
        at: here,
        expr: 'a',
        value: 7,
        includes: [response(/\$\.a(?!\w)/, 'the response at $.a')],
        excludes: [response(/\$\.b(?!\w)/, 'the response at $.b or below')],
      },
    ]);
  });
});

describe('strings', () => {
  const sliceProgram = `
const a = process.env.ALPHA;
const b = process.env.BETA;
const label = \`\${a}:\${b}\`;
const tail = label.slice(4);
const joined = ['v1', a, b].join('/');
const third = joined.split('/')[2];
console.log(JSON.stringify({ label, tail, joined, third })); // @at
`;

  test('template literals, slice, split and join: the characters of each input are tracked', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': sliceProgram }, { env: WORDS });
    assert.deepEqual(printed, { label: 'red:blue', tail: 'blue', joined: 'v1/red/blue', third: 'blue' });
    const here = at('app.mjs', sliceProgram);
    await expectWhys(dir, [
      { at: here, expr: 'label', value: 'red:blue', includes: [ALPHA, BETA] },
      { at: here, expr: 'tail', value: 'blue', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'joined', value: 'v1/red/blue', includes: [ALPHA, BETA] },
      { at: here, expr: 'third', value: 'blue', includes: [BETA], excludes: [ALPHA] },
    ]);
  });

  const replaceProgram = `
const a = process.env.ALPHA;
const b = process.env.BETA;
const label = a + ':' + b;
const greeting = 'hello NAME'.replace('NAME', a);
const stripped = label.replace(/^[a-z]+:/, '');
const match = /^(?<first>[a-z]+):(?<second>[a-z]+)$/.exec(label);
const group = match.groups.second;
const firstGroup = match[1];
console.log(JSON.stringify({ greeting, stripped, group, firstGroup })); // @at
`;

  test('replace and regular expression groups: a group or a remainder holds only its own input', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': replaceProgram }, { env: WORDS });
    assert.deepEqual(printed, { greeting: 'hello red', stripped: 'blue', group: 'blue', firstGroup: 'red' });
    const here = at('app.mjs', replaceProgram);
    await expectWhys(dir, [
      { at: here, expr: 'greeting', value: 'hello red', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'stripped', value: 'blue', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'group', value: 'blue', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'firstGroup', value: 'red', includes: [ALPHA], excludes: [BETA] },
    ]);
  });
});

describe('numbers', () => {
  const program = `
const r1 = Math.random();
const r2 = Math.random();
const pair = [Number(process.env.ALPHA), parseFloat(process.env.BETA)];
const weight = Math.round(pair[1] * 10);
const fixed = (pair[0] * 2).toFixed(2);
const percent = Math.round(r1 * 100);
const share = (r2 * 10).toFixed(3);
console.log(JSON.stringify({ r1, r2, weight, fixed, percent, share })); // @at
`;

  test('Number(), parseFloat, toFixed and Math.round, on environment strings and Math.random results', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: { ALPHA: '3.14159', BETA: '2.5kg' } });
    const r1 = printed.r1 as number;
    const r2 = printed.r2 as number;
    assert.deepEqual(printed, { r1, r2, weight: 25, fixed: '6.28', percent: Math.round(r1 * 100), share: (r2 * 10).toFixed(3) });
    const here = at('app.mjs', program);
    await expectWhys(dir, [
      { at: here, expr: 'fixed', value: '6.28', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'weight', value: 25, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'percent', value: Math.round(r1 * 100), includes: [randomResult(r1)], excludes: [randomResult(r2)] },
      { at: here, expr: 'share', value: (r2 * 10).toFixed(3), includes: [randomResult(r2)], excludes: [randomResult(r1)] },
    ]);
  });
});

describe('closures', () => {
  const program = `
function makeCounter(start) {
  let count = start;
  return {
    add(n) { count += n; return count; },
    read: () => count,
  };
}
const counterA = makeCounter(Number(process.env.ALPHA));
const counterB = makeCounter(Number(process.env.BETA));
counterA.add(100);
counterB.add(1);
const fromA = counterA.read();
const fromB = counterB.read();
let captured = process.env.ALPHA;
const readCaptured = () => captured;
captured = process.env.BETA + '?';
const late = readCaptured();
console.log(JSON.stringify({ fromA, fromB, late })); // @at
`;

  test('two closures of one function keep their own captured variable; a reassigned capture loses the old input', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: NUMBERS });
    assert.deepEqual(printed, { fromA: 107, fromB: 6, late: '5?' });
    const here = at('app.mjs', program);
    await expectWhys(dir, [
      { at: here, expr: 'fromA', value: 107, includes: [ALPHA, literalNumber(100)], excludes: [BETA] },
      { at: here, expr: 'fromB', value: 6, includes: [BETA], excludes: [ALPHA, literalNumber(100)] },
      { at: here, expr: 'late', value: '5?', includes: [BETA], excludes: [ALPHA] },
    ]);
  });
});

describe('classes and proxies', () => {
  const program = `
class Account {
  #balance;
  static opened = 0;
  constructor(initial) {
    this.#balance = initial;
    Account.opened += 1;
  }
  get balance() {
    return this.#balance;
  }
  set deposit(amount) {
    this.#balance += amount;
  }
}
const accountA = new Account(Number(process.env.ALPHA));
const accountB = new Account(Number(process.env.BETA));
accountA.deposit = 1000;
accountB.deposit = 10;
const balanceA = accountA.balance;
const balanceB = accountB.balance;
const target = { x: process.env.ALPHA, y: process.env.BETA };
const proxy = new Proxy(target, {
  get(t, key) { return key === 'y' ? t[key] + '!' : t[key]; },
  set(t, key, value) { t[key] = String(value).repeat(2); return true; },
});
proxy.z = proxy.y;
const viaProxy = proxy.z;
const plainX = proxy.x;
console.log(JSON.stringify({ balanceA, balanceB, viaProxy, plainX })); // @at
`;

  test('private fields, getters and setters per instance; Proxy get and set traps', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: NUMBERS });
    assert.deepEqual(printed, { balanceA: 1007, balanceB: 15, viaProxy: '5!5!', plainX: '7' });
    const here = at('app.mjs', program);
    await expectWhys(dir, [
      { at: here, expr: 'balanceA', value: 1007, includes: [ALPHA, literalNumber(1000)], excludes: [BETA] },
      { at: here, expr: 'balanceB', value: 15, includes: [BETA, literalNumber(10)], excludes: [ALPHA, literalNumber(1000)] },
      { at: here, expr: 'viaProxy', value: '5!5!', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'plainX', value: '7', includes: [ALPHA], excludes: [BETA] },
    ]);
  });
});

describe('optional chaining and defaults', () => {
  const program = `
const a = process.env.ALPHA;
const b = process.env.BETA;
const config = { db: { port: b }, cache: null };
const port = config.db?.port ?? a;
const host = config.cache?.host ?? a;
const name = process.env.PROVENANCE_TEST_NOT_SET || a;
const chosen = b || a;
console.log(JSON.stringify({ port, host, name, chosen })); // @at
`;

  test('?., ?? and ||: the operand that was not used is not in the lineage', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: NUMBERS });
    assert.deepEqual(printed, { port: '5', host: '7', name: '7', chosen: '5' });
    const here = at('app.mjs', program);
    await expectWhys(dir, [
      { at: here, expr: 'port', value: '5', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'host', value: '7', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'name', value: '7', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'chosen', value: '5', includes: [BETA], excludes: [ALPHA] },
    ]);
  });
});

describe('exceptions', () => {
  const program = `
function parseCount(text) {
  if (!/^[0-9]+$/.test(text)) throw new Error('not a count: ' + text);
  return Number(text);
}
let message;
try {
  parseCount(process.env.ALPHA);
} catch (err) {
  message = err.message;
}
let rethrown;
try {
  try {
    parseCount(process.env.ALPHA);
  } catch (err) {
    throw new Error('wrapped: ' + err.message);
  }
} catch (err) {
  rethrown = err.message;
}
let code;
let audit;
try {
  throw { code: Number(process.env.BETA) * 2, context: process.env.ALPHA };
} catch ({ code: thrownCode }) {
  code = thrownCode;
} finally {
  audit = 'code ' + code;
}
console.log(JSON.stringify({ message, rethrown, code, audit })); // @at
`;

  test('try/catch/finally: a thrown value carries its input; a member of a thrown object does not carry its sibling', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: { ALPHA: 'x7', BETA: '5' } });
    assert.deepEqual(printed, { message: 'not a count: x7', rethrown: 'wrapped: not a count: x7', code: 10, audit: 'code 10' });
    const here = at('app.mjs', program);
    await expectWhys(dir, [
      { at: here, expr: 'message', value: 'not a count: x7', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'rethrown', value: 'wrapped: not a count: x7', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'code', value: 10, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'audit', value: 'code 10', includes: [BETA], excludes: [ALPHA] },
    ]);
  });
});

describe('asynchronous code', () => {
  const promiseProgram = `
const delay = (ms, value) => new Promise((resolve) => setTimeout(resolve, ms, value));
async function scaled(text, factor) {
  await null;
  return Number(text) * factor;
}
const [fromA, fromB] = await Promise.all([scaled(process.env.ALPHA, 10), delay(5, process.env.BETA)]);
const chained = await Promise.resolve(process.env.BETA)
  .then(Number)
  .then((n) => n + 1);
console.log(JSON.stringify({ fromA, fromB, chained })); // @at
`;

  test('async/await, Promise.all and then chains', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': promiseProgram }, { env: NUMBERS });
    assert.deepEqual(printed, { fromA: 70, fromB: '5', chained: 6 });
    const here = at('app.mjs', promiseProgram);
    await expectWhys(dir, [
      { at: here, expr: 'fromA', value: 70, includes: [ALPHA, literalNumber(10)], excludes: [BETA] },
      { at: here, expr: 'fromB', value: '5', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'chained', value: 6, includes: [BETA], excludes: [ALPHA] },
    ]);
  });

  const eventProgram = `
import { EventEmitter, once } from 'node:events';
const bus = new EventEmitter();
const seen = [];
bus.on('price', (event) => seen.push(event.amount * 2));
bus.emit('price', { amount: Number(process.env.ALPHA) });
bus.emit('price', { amount: Number(process.env.BETA) });
const secondSeen = seen[1];
setTimeout(() => bus.emit('ready', { token: process.env.BETA + '-token', noise: process.env.ALPHA }), 5);
const [ready] = await once(bus, 'ready');
const token = ready.token;
const timerValue = await new Promise((resolve) => setTimeout(() => resolve(process.env.ALPHA + '@timer'), 1));
console.log(JSON.stringify({ secondSeen, token, timerValue })); // @at
`;

  test('EventEmitter payloads, events.once and timer callbacks', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': eventProgram }, { env: NUMBERS });
    assert.deepEqual(printed, { secondSeen: 10, token: '5-token', timerValue: '7@timer' });
    const here = at('app.mjs', eventProgram);
    await expectWhys(dir, [
      { at: here, expr: 'secondSeen', value: 10, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'token', value: '5-token', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'timerValue', value: '7@timer', includes: [ALPHA], excludes: [BETA] },
    ]);
  });

  const streamProgram = `
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
const shout = new Transform({
  objectMode: true,
  transform(chunk, _encoding, done) {
    done(null, String(chunk).toUpperCase() + '!');
  },
});
const chunks = [];
await pipeline(Readable.from([process.env.ALPHA, process.env.BETA]), shout, async function (source) {
  for await (const chunk of source) chunks.push(chunk);
});
const [first, second] = chunks;
console.log(JSON.stringify({ first, second })); // @at
`;

  test('stream chunks through a Transform and a pipeline: each chunk keeps its own input', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': streamProgram }, { env: WORDS });
    assert.deepEqual(printed, { first: 'RED!', second: 'BLUE!' });
    const here = at('app.mjs', streamProgram);
    await expectWhys(dir, [
      { at: here, expr: 'first', value: 'RED!', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'second', value: 'BLUE!', includes: [BETA], excludes: [ALPHA] },
    ]);
  });
});

describe('requests', () => {
  // Both requests are held at a barrier until the second has arrived, so the handler's code runs
  // interleaved for the two of them.
  const interleavedServer = `
import http from 'node:http';
const waiting = [];
function bothArrived() {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === 2) for (const release of waiting) release();
  });
}
let served = 0;
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  const order = JSON.parse(body);
  await bothArrived();
  const total = order.price * order.qty;
  res.end(JSON.stringify({ total })); // @at
  if (++served === 2) server.close();
});
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

  test('two interleaved requests through the same handler: no edge from one request to the other', async () => {
    const dir = workdir('retrace-why-');
    writeFiles(dir, { 'app.mjs': interleavedServer });
    const server = await startServer(dir, 'app.mjs');
    const replies = await Promise.all([
      request(server.port, 'POST', '/order', { price: 10101, qty: 3 }),
      request(server.port, 'POST', '/order', { price: 20202, qty: 4 }),
    ]);
    assert.deepEqual(replies.map((r) => r.body), ['{"total":30303}', '{"total":80808}']);
    const rec = await server.done;
    assert.equal(rec.status, 0, describeRun(rec));

    const here = at('app.mjs', interleavedServer);
    const answers = await Promise.all([1, 2].map((hit) => whyAsync(dir, here, 'total', { hit })));
    // A replay asked for hit 1 may stop there, so only the last hit knows there were two.
    assert.deepEqual(answers.map((a) => a.hit), [1, 2]);
    assert.equal(answers[1]!.hits, 2);
    assert.deepEqual(answers.map((a) => a.value).sort(), ['30303', '80808'], answers.map((a) => renderTree(a)).join('\n'));
    const own = { '30303': ['10101'], '80808': ['20202'] } as const;
    const other = { '30303': ['20202', '80808'], '80808': ['10101', '30303'] } as const;
    for (const answer of answers) {
      const shown = answer.value as keyof typeof own;
      assertIncludes(answer, { kind: 'http.request', detail: /\$\.price/, label: 'the request body at $.price' });
      assertIncludes(answer, { kind: 'http.request', detail: /\$\.qty/, label: 'the request body at $.qty' });
      assert.ok(
        own[shown].every((v) => [...nodes(answer.lineage)].some((n) => n.value.includes(v))),
        `the lineage shows this request's own price ${own[shown]}\n${renderTree(answer)}`,
      );
      for (const v of other[shown]) assertNoValueContaining(answer, v);
    }
    const [events1, events2] = answers.map((a) => originEvents(a, 'http.request'));
    assert.ok(events1!.size > 0 && events2!.size > 0, 'request origins carry their event numbers');
    assert.deepEqual([...events1!].filter((e) => events2!.has(e)), [], 'the two hits share no recorded input');
    // each answer traced only its own request (the barrier's resolve from the other request carries no value)
    assert.deepEqual(answers.map((a) => a.scope?.traced), ['narrowed', 'narrowed'], JSON.stringify(answers.map((a) => a.scope)));
    assert.notEqual(answers[0]!.scope?.place?.request, answers[1]!.scope?.place?.request);
  });

  const expressServer = `
import express from 'express';
const waiting = [];
function bothArrived() {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === 2) for (const release of waiting) release();
  });
}
let served = 0;
const app = express();
app.use(express.json());
app.post('/order', async (req, res) => {
  const { price, qty } = req.body;
  await bothArrived();
  const total = price * qty;
  res.json({ total }); // @at
  if (++served === 2) server.close();
});
const server = app.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

  test('two interleaved requests through an Express handler with express.json(): each total comes from its own body', async () => {
    const dir = libraryWorkdir({ 'app.mjs': expressServer }, 'retrace-why-');
    const server = await startServer(dir, 'app.mjs');
    const replies = await Promise.all([
      request(server.port, 'POST', '/order', { price: 10101, qty: 3 }),
      request(server.port, 'POST', '/order', { price: 20202, qty: 4 }),
    ]);
    assert.deepEqual(replies.map((r) => r.body), ['{"total":30303}', '{"total":80808}']);
    const rec = await server.done;
    assert.equal(rec.status, 0, describeRun(rec));

    const here = at('app.mjs', expressServer);
    const answers = await Promise.all([1, 2].map((hit) => whyAsync(dir, here, 'total', { hit })));
    assert.deepEqual(answers.map((a) => a.value).sort(), ['30303', '80808'], answers.map((a) => renderTree(a)).join('\n'));
    for (const answer of answers) {
      assertIncludes(answer, { kind: 'http.request', detail: /\$\.price/, label: 'the request body at $.price' });
      assertIncludes(answer, { kind: 'http.request', detail: /\$\.qty/, label: 'the request body at $.qty' });
      for (const v of answer.value === '30303' ? ['20202', '80808'] : ['10101', '30303']) assertNoValueContaining(answer, v);
    }
    const [events1, events2] = answers.map((a) => originEvents(a, 'http.request'));
    assert.deepEqual([...events1!].filter((e) => events2!.has(e)), [], 'the two hits share no recorded input');
  });

  const fastifyServer = `
import Fastify from 'fastify';
const app = Fastify();
let served = 0;
app.post('/order', async (request) => {
  const { price, qty } = request.body;
  const total = price * qty;
  if (++served === 2) setImmediate(() => app.close());
  return { total }; // @at
});
await app.listen({ port: 0, host: '127.0.0.1' });
console.log('listening', app.server.address().port);
`;

  test('a Fastify handler: request.body, parsed by Fastify\'s own JSON parser, ends at the request body', async () => {
    const dir = libraryWorkdir({ 'app.mjs': fastifyServer }, 'retrace-why-');
    const server = await startServer(dir, 'app.mjs');
    const first = await request(server.port, 'POST', '/order', { price: 10101, qty: 3 });
    const second = await request(server.port, 'POST', '/order', { price: 20202, qty: 4 });
    assert.deepEqual([first.body, second.body], ['{"total":30303}', '{"total":80808}']);
    const rec = await server.done;
    assert.equal(rec.status, 0, describeRun(rec));

    const answer = await whyAsync(dir, at('app.mjs', fastifyServer), 'total', { hit: 2 });
    assertShows(answer, 80808);
    assertIncludes(answer, { kind: 'http.request', detail: /POST \/order request body, JSON \$\.price/, label: 'the request body at $.price' });
    assertIncludes(answer, { kind: 'http.request', detail: /POST \/order request body, JSON \$\.qty/, label: 'the request body at $.qty' });
    assertNoValueContaining(answer, '10101');
    assert.equal(answer.scope?.traced, 'narrowed', JSON.stringify(answer.scope));
  });

  const utf8Server = `
import http from 'node:http';
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  const order = JSON.parse(body);
  const price = order.price;
  res.end(String(price * 2)); // @at
  server.close();
});
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

  test('a member after non-ASCII text in a request body: its origin is the byte range of its own bytes', async () => {
    const dir = workdir('retrace-why-');
    writeFiles(dir, { 'app.mjs': utf8Server });
    const server = await startServer(dir, 'app.mjs');
    // 2-, 3- and 4-byte characters (one of them a surrogate pair) before the member asked about
    const body = Buffer.from('{"name":"Zoë ☕ 𝄞","price":7}');
    const head = Buffer.from(`POST /o HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    const reply = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = net.connect(server.port, '127.0.0.1', () => socket.end(Buffer.concat([head, body])));
      socket.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text)).on('error', reject);
    });
    assert.match(reply, /\r\n\r\n14$/);
    const rec = await server.done;
    assert.equal(rec.status, 0, describeRun(rec));

    const answer = await whyAsync(dir, at('app.mjs', utf8Server), 'price');
    const leaf = [...nodes(answer.lineage)].find((n) => n.origin?.kind === 'http.request' && /\$\.price/.test(n.origin.detail));
    assert.ok(leaf, `the request body at $.price\n${renderTree(answer)}`);
    const at7 = head.length + body.indexOf('7');
    assert.deepEqual((leaf!.origin as { range?: number[] }).range, [at7, at7 + 1], 'the range counts bytes, not characters');
  });

  // The first request fills a cache; the second reuses the cached rate. The memoized value's
  // lineage goes back to the first request's body, and only that part of it.
  const memoServer = `
import http from 'node:http';
const rates = new Map();
let served = 0;
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  const quote = JSON.parse(body);
  if (!rates.has(quote.currency)) rates.set(quote.currency, quote.rate);
  const rate = rates.get(quote.currency);
  const amount = quote.amount * rate;
  const units = quote.amount;
  res.end(JSON.stringify({ amount, units })); // @at
  if (++served === 2) server.close();
});
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

  test('a value memoized from an earlier request: its lineage reaches into that request, and a fresh value does not', async () => {
    const dir = workdir('retrace-why-');
    writeFiles(dir, { 'app.mjs': memoServer });
    const server = await startServer(dir, 'app.mjs');
    const first = await request(server.port, 'POST', '/quote', { currency: 'EUR', rate: 1.25, amount: 10101 });
    const second = await request(server.port, 'POST', '/quote', { currency: 'EUR', rate: 7.75, amount: 20202 });
    assert.deepEqual([first.body, second.body], ['{"amount":12626.25,"units":10101}', '{"amount":25252.5,"units":20202}']);
    const rec = await server.done;
    assert.equal(rec.status, 0, describeRun(rec));

    const here = at('app.mjs', memoServer);
    const body = (jsonPath: RegExp, label: string): OriginMatcher => ({ kind: 'http.request', detail: jsonPath, label });
    const [units1, units2, amount2] = (await expectWhys(dir, [
      { at: here, expr: 'units', hit: 1, value: 10101, includes: [body(/\$\.amount/, 'request 1 at $.amount')] },
      { at: here, expr: 'units', hit: 2, value: 20202, includes: [body(/\$\.amount/, 'request 2 at $.amount')] },
      { at: here, expr: 'amount', hit: 2, value: 25252.5, includes: [body(/\$\.rate/, 'the cached rate'), body(/\$\.amount/, 'the amount')] },
    ])) as [WhyResult, WhyResult, WhyResult];
    assertNoValueContaining(units2, '10101');
    assertExcludes(units2, body(/\$\.rate/, 'a request body at $.rate'));
    const request1 = originEvents(units1, 'http.request');
    const request2 = originEvents(units2, 'http.request');
    assert.deepEqual([...request2].filter((e) => request1.has(e)), [], 'the second request reads nothing of the first');

    const amountEvents = originEvents(amount2, 'http.request');
    assert.ok([...amountEvents].some((e) => request1.has(e)), `the cached rate comes from the first request\n${renderTree(amount2)}`);
    assert.ok([...amountEvents].some((e) => request2.has(e)), `the amount comes from the second request\n${renderTree(amount2)}`);
    assert.ok([...nodes(amount2.lineage)].some((n) => n.value.includes('1.25')), `the first request's rate is shown\n${renderTree(amount2)}`);
    const secondRate = [...nodes(amount2.lineage)].filter(
      (n) => n.origin?.kind === 'http.request' && /\$\.rate/.test(n.origin.detail) && request2.has(n.origin.event ?? -1),
    );
    assert.deepEqual(secondRate, [], `the second request's own rate is not used\n${renderTree(amount2)}`);

    // Scoping: units2 needs only its own request; amount2's cached rate was computed in the first
    // request, so the narrowed replay sees a value from outside and `why` widens to the process.
    assert.equal(units2.scope?.traced, 'narrowed', JSON.stringify(units2.scope));
    assert.equal(typeof units2.scope?.place?.request, 'number', JSON.stringify(units2.scope));
    assert.deepEqual([amount2.scope?.traced, amount2.scope?.reason], ['process', 'widened'], JSON.stringify(amount2.scope));
    assert.deepEqual(amount2.stats?.passes.map((p) => p.mode), ['locate', 'trace narrowed', 'trace']);
    // --scope narrow keeps the narrowed answer and says it is incomplete, with the outside value as a leaf
    const narrow = await whyAsync(dir, here, 'amount', { hit: 2, scope: 'narrow' });
    assert.equal(narrow.complete, false);
    assert.ok(narrow.notes.some((n) => /another request or connection/.test(n)), narrow.notes.join('\n'));
    assertIncludes(narrow, { kind: 'outside', detail: /outside the traced request/, label: 'the value from outside the traced request' });
    assertIncludes(narrow, body(/\$\.amount/, 'the amount'));
    assert.ok(![...nodes(narrow.lineage)].some((n) => request1.has(n.origin?.event ?? -1)), `nothing of the first request is traced\n${renderTree(narrow)}`);
  });

  // Many requests over a few keep-alive connections, each running the same loop: only the request
  // that holds the hit makes lineage, so the lineage graph stays the size of one request.
  const busyServer = `
import http from 'node:http';
const TAX = Number(process.env.ALPHA);
let served = 0;
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  const order = JSON.parse(body);
  let total = 0;
  for (let i = 0; i < 400; i++) total += (order.price * (i % 3)) / 2;
  total = total + TAX;
  res.end(JSON.stringify({ total })); // @at
  if (++served === 40) server.close();
});
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
`;

  test('many requests on keep-alive connections: only the hit\'s request makes lineage, and the answer is the one tracing everything gives', async () => {
    const dir = workdir('retrace-why-');
    writeFiles(dir, { 'app.mjs': busyServer });
    const server = await startServer(dir, 'app.mjs', { env: NUMBERS });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => request(server.port, 'POST', '/order', { price: 1000 + i }, agent)));
    agent.destroy();
    assert.equal(replies.length, 40);
    const rec = await server.done;
    assert.equal(rec.status, 0, describeRun(rec));

    const here = at('app.mjs', busyServer);
    const [narrowed, everything] = await Promise.all([whyAsync(dir, here, 'total', { hit: 30 }), whyAsync(dir, here, 'total', { hit: 30, scope: 'all' })]);
    assert.equal(narrowed.value, everything.value);
    assert.equal(narrowed.complete, true, narrowed.notes.join('\n'));
    assert.equal(narrowed.scope?.traced, 'narrowed', JSON.stringify(narrowed.scope));
    assert.equal(typeof narrowed.scope?.place?.request, 'number');
    assert.ok((narrowed.scope?.requests ?? 0) >= 30, JSON.stringify(narrowed.scope));
    assert.deepEqual([everything.scope?.traced, everything.scope?.reason], ['process', 'asked']);
    // the same origins: this request's price and the environment read at startup
    const origins = (r: WhyResult) => [...new Set([...nodes(r.lineage)].filter((n) => n.origin && n.origin.kind !== 'literal').map((n) => `${n.origin!.kind} ${n.origin!.event} ${n.origin!.detail}`))].sort();
    assert.deepEqual(origins(narrowed), origins(everything));
    assertIncludes(narrowed, { kind: 'http.request', detail: /\$\.price/, label: 'the request body at $.price' });
    assertIncludes(narrowed, ALPHA);
    assert.equal(originEvents(narrowed, 'http.request').size, 1, `one request's body\n${renderTree(narrowed)}`);
    // 40 requests × 400 iterations: tracing all of them makes at least ten times the nodes
    assert.ok(narrowed.stats!.nodes * 10 < everything.stats!.nodes, `nodes: narrowed ${narrowed.stats!.nodes}, everything ${everything.stats!.nodes}`);
  });
});

describe('collections', () => {
  const arrayProgram = `
const items = [
  { name: 'alpha', price: Number(process.env.ALPHA) },
  { name: 'beta', price: Number(process.env.BETA) },
  { name: 'fixed', price: 4 },
];
const doubled = items.map((item) => item.price * 2);
const doubledBeta = doubled[1];
const total = items.reduce((sum, item) => sum + item.price, 0);
const withoutAlpha = items.filter((item) => item.name !== 'alpha').reduce((sum, item) => sum + item.price, 0);
const byRank = [
  { rank: 2, value: process.env.ALPHA },
  { rank: 1, value: process.env.BETA },
].sort((x, y) => x.rank - y.rank);
const firstRanked = byRank[0].value;
const sortedNumbers = [Number(process.env.ALPHA), 50, 1].sort((x, y) => x - y);
const middle = sortedNumbers[1];
console.log(JSON.stringify({ doubledBeta, total, withoutAlpha, firstRanked, middle })); // @at
`;

  test('map, filter, reduce and sort: an element keeps its own input wherever it moves', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': arrayProgram }, { env: NUMBERS });
    assert.deepEqual(printed, { doubledBeta: 10, total: 16, withoutAlpha: 9, firstRanked: '5', middle: 7 });
    const here = at('app.mjs', arrayProgram);
    await expectWhys(dir, [
      { at: here, expr: 'doubledBeta', value: 10, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'total', value: 16, includes: [ALPHA, BETA, literalNumber(4)] },
      { at: here, expr: 'withoutAlpha', value: 9, includes: [BETA, literalNumber(4)], excludes: [ALPHA] },
      { at: here, expr: 'firstRanked', value: '5', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'middle', value: 7, includes: [ALPHA], excludes: [BETA] },
    ]);
  });

  const destructuringCallbacks = `
const pairs = [['a', process.env.ALPHA], ['b', process.env.BETA]];
const shouted = pairs.map(([, word]) => word + '!');
const fromMap = [...new Map(pairs)].map(([, word]) => word);
const sum = [[1, Number(process.env.ALPHA)], [2, Number(process.env.BETA)]].reduce((acc, [, n]) => acc + n, 0);
const picked = shouted[1];
const mapped = fromMap[0];
console.log(JSON.stringify({ picked, mapped, sum })); // @at
`;

  test('callbacks of array methods with destructured parameters: each element keeps its own input', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': destructuringCallbacks }, { env: NUMBERS });
    assert.deepEqual(printed, { picked: '5!', mapped: '7', sum: 12 });
    const here = at('app.mjs', destructuringCallbacks);
    await expectWhys(dir, [
      { at: here, expr: 'picked', value: '5!', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'mapped', value: '7', includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'sum', value: 12, includes: [ALPHA, BETA] },
    ]);
  });

  const mapSetProgram = `
const prices = new Map([
  ['alpha', Number(process.env.ALPHA)],
  ['beta', Number(process.env.BETA)],
]);
prices.set('gamma', prices.get('beta') + 1);
const alphaPrice = prices.get('alpha');
const gamma = prices.get('gamma');
let fromIteration;
for (const [key, value] of prices) if (key === 'beta') fromIteration = value * 3;
const tags = new Set([process.env.ALPHA, process.env.BETA]);
const [, secondTag] = tags;
console.log(JSON.stringify({ alphaPrice, gamma, fromIteration, secondTag })); // @at
`;

  test('Map and Set: entries keep their own input', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': mapSetProgram }, { env: NUMBERS });
    assert.deepEqual(printed, { alphaPrice: 7, gamma: 6, fromIteration: 15, secondTag: '5' });
    const here = at('app.mjs', mapSetProgram);
    await expectWhys(dir, [
      { at: here, expr: 'alphaPrice', value: 7, includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'gamma', value: 6, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'fromIteration', value: 15, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'secondTag', value: '5', includes: [BETA], excludes: [ALPHA] },
    ]);
  });

  const generatorProgram = `
function* readings() {
  yield Number(process.env.ALPHA);
  yield Number(process.env.BETA);
}
const [, secondReading] = readings();
function* doubler() {
  let latest = 0;
  while (true) {
    const received = yield latest;
    latest = received * 2;
  }
}
const gen = doubler();
gen.next();
const doubledA = gen.next(Number(process.env.ALPHA)).value;
const doubledB = gen.next(Number(process.env.BETA)).value;
async function* ticker() {
  yield process.env.ALPHA;
  await null;
  yield process.env.BETA + '!';
}
const ticks = [];
for await (const tick of ticker()) ticks.push(tick);
const lastTick = ticks[1];
function* scaled(factor, base) {
  yield factor * 2;
  yield base + 1;
}
const [scaledA, plusB] = scaled(Number(process.env.ALPHA), Number(process.env.BETA));
// two generators made with the same first argument: each body gets its own call's lineage
const early = scaled(Number(process.env.ALPHA), 1);
const late = scaled(7, 3);
const fromLate = late.next().value;
const fromEarly = early.next().value;
async function* echo(word) {
  await null;
  yield word + '?';
}
let echoed = '';
for await (const e of echo(process.env.ALPHA)) echoed = e;
console.log(JSON.stringify({ secondReading, doubledA, doubledB, lastTick, scaledA, plusB, fromEarly, fromLate, echoed })); // @at
`;

  test('generators: yielded values, values sent with next(), parameters, async generators', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': generatorProgram }, { env: NUMBERS });
    assert.deepEqual(printed, { secondReading: 5, doubledA: 14, doubledB: 10, lastTick: '5!', scaledA: 14, plusB: 6, fromEarly: 14, fromLate: 14, echoed: '7?' });
    const here = at('app.mjs', generatorProgram);
    await expectWhys(dir, [
      { at: here, expr: 'doubledA', value: 14, includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'doubledB', value: 10, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'secondReading', value: 5, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'lastTick', value: '5!', includes: [BETA], excludes: [ALPHA] },
      // a generator's parameters reach its body, which starts on the first next()
      { at: here, expr: 'scaledA', value: 14, includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'plusB', value: 6, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'fromEarly', value: 14, includes: [ALPHA, literalNumber(2)], excludes: [BETA, literalNumber(7), literalNumber(1)] },
      { at: here, expr: 'fromLate', value: 14, includes: [literalNumber(7), literalNumber(2)], excludes: [ALPHA, BETA, literalNumber(3)] },
      { at: here, expr: 'echoed', value: '7?', includes: [ALPHA], excludes: [BETA] },
    ]);
  });
});

describe('control flow (--control)', () => {
  const literalText = (text: string): OriginMatcher => ({ kind: 'literal', detail: new RegExp(`literal "${text}"`), label: `the literal "${text}"` });
  // Without --control a value's lineage is the data it was made of; with it, also the conditions
  // that decided which code made it (an if, the code after an early return, ?:, ||, an await in a branch).
  const program = `
const tier = process.env.ALPHA;
const base = Number(process.env.BETA);
let discount = 0;
if (tier === '7') discount = 10;
function rateFor(t) {
  if (!t) return 0;
  return 3;
}
const rate = rateFor(tier);
const size = Number(tier) > 5 ? 'big' : 'small';
const label = process.env.MISSING || 'fallback';
let plain = 0;
if (tier === '7') {
  const doubled = base * 2;
  globalThis.kept = doubled;
}
plain = base * 2;
async function later(t) {
  await null;
  if (t === '7') {
    await null;
    return 'seven';
  }
  return 'other';
}
const word = await later(tier);
console.log(JSON.stringify({ discount, rate, size, label, plain, word })); // @at
`;

  test('conditions are in the lineage of what they decided with --control, and only then', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: NUMBERS });
    assert.deepEqual(printed, { discount: 10, rate: 3, size: 'big', label: 'fallback', plain: 10, word: 'seven' });
    const here = at('app.mjs', program);
    const [discount] = await expectWhys(dir, [
      { at: here, expr: 'discount', value: 10, includes: [ALPHA, literalNumber(10)], control: true },
      { at: here, expr: 'rate', value: 3, includes: [ALPHA, literalNumber(3)], control: true },
      { at: here, expr: 'size', value: 'big', includes: [ALPHA], excludes: [BETA], control: true },
      { at: here, expr: 'label', value: 'fallback', includes: [envVar('MISSING')], control: true },
      // assigned after the if, not inside it: the condition did not decide it
      { at: here, expr: 'plain', value: 10, includes: [BETA], excludes: [ALPHA], control: true },
      { at: here, expr: 'word', value: 'seven', includes: [ALPHA], excludes: [BETA], control: true },
      // the same questions without --control: data only
      { at: here, expr: 'discount', value: 10, includes: [literalNumber(10)], excludes: [ALPHA] },
      { at: here, expr: 'rate', value: 3, includes: [literalNumber(3)], excludes: [ALPHA] },
      { at: here, expr: 'size', value: 'big', includes: [literalText('big')], excludes: [ALPHA] },
      { at: here, expr: 'word', value: 'seven', includes: [literalText('seven')], excludes: [ALPHA] },
    ]);
    assert.ok([...nodes(discount!.lineage)].some((n) => (n as { control?: boolean }).control && n.op === 'if'), `the if is a node marked as a condition\n${renderTree(discount!)}`);
  });
});

describe('modules', () => {
  const esmLib = `
export const rate = Number(process.env.ALPHA);
export let lastInput = 0;
export function scale(x) {
  lastInput = x;
  return x * 10; // @scale
}
`;
  const esmApp = `
import { rate, scale, lastInput } from './lib.mjs';
const fromRate = scale(rate);
const scaledB = scale(Number(process.env.BETA));
const live = lastInput;
console.log(JSON.stringify({ fromRate, scaledB, live })); // @at
`;

  test('ES modules: imported bindings, live bindings, and a location inside the imported module', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': esmApp, 'lib.mjs': esmLib }, { env: NUMBERS });
    assert.deepEqual(printed, { fromRate: 70, scaledB: 50, live: 5 });
    const here = at('app.mjs', esmApp);
    const inLib = at('lib.mjs', esmLib, 'scale');
    const answers = await expectWhys(dir, [
      { at: here, expr: 'fromRate', value: 70, includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'live', value: 5, includes: [BETA], excludes: [ALPHA] },
      { at: inLib, expr: 'x', hit: 1, value: 7, includes: [ALPHA], excludes: [BETA] },
      { at: inLib, expr: 'x', value: 5, includes: [BETA], excludes: [ALPHA] },
    ]);
    assert.equal(answers[2]!.hit, 1);
    assert.deepEqual([answers[3]!.hit, answers[3]!.hits], [2, 2], 'the default hit is the last');
  });

  const cjsLib = `
const tax = Number(process.env.ALPHA);
exports.tax = tax;
exports.withTax = (net) => net + tax;
exports.double = (x) => x * 2;
`;
  const cjsApp = `
const { tax, double, withTax } = require('./lib.cjs');
const doubledTax = double(tax);
const doubledB = double(Number(process.env.BETA));
const taxed = withTax(Number(process.env.BETA));
console.log(JSON.stringify({ doubledTax, doubledB, taxed })); // @at
`;

  test('CommonJS modules: exports and closures over a module variable', async () => {
    const { dir, printed } = recordProgram({ 'app.cjs': cjsApp, 'lib.cjs': cjsLib }, { env: NUMBERS, command: ['node', 'app.cjs'] });
    assert.deepEqual(printed, { doubledTax: 14, doubledB: 10, taxed: 12 });
    const here = at('app.cjs', cjsApp);
    await expectWhys(dir, [
      { at: here, expr: 'doubledTax', value: 14, includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'doubledB', value: 10, includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'taxed', value: 12, includes: [ALPHA, BETA] },
    ]);
  });
});

describe('TypeScript', () => {
  const source = `enum Level {
  Low = 1,
  High = 10,
}

function audited<This, Args extends number[], Return>(
  method: (this: This, ...args: Args) => Return,
  _context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Return>,
) {
  const calls: Args[] = [];
  return function (this: This, ...args: Args): Return {
    calls.push(args);
    return method.call(this, ...args);
  };
}

class Pricer {
  constructor(
    private readonly rate: number,
    public label: string,
  ) {}

  @audited
  price(n: number): number {
    return n * this.rate;
  }
}

const pricerA = new Pricer(Number(process.env.ALPHA), 'A');
const pricerB = new Pricer(Number(process.env.BETA), process.env.BETA + '-label');
const priceA = pricerA.price(Level.High);
const priceB = pricerB.price(3);
const labelB = pricerB.label;
const level = Number(process.env.BETA) * Level.High;
console.log(JSON.stringify({ priceA, priceB, labelB, level })); // @at
`;

  test('enums, parameter properties and decorators, compiled by tsc with source maps; asked about by .ts line', async () => {
    const dir = libraryWorkdir({ 'src/app.ts': source }, 'retrace-why-');
    compileTypeScript(dir, repoRoot);
    const { printed } = recordProgram({}, { dir, env: NUMBERS, command: ['node', 'dist/app.js'] });
    assert.deepEqual(printed, { priceA: 70, priceB: 15, labelB: '5-label', level: 50 });
    const here = at('src/app.ts', source);
    const answers = await expectWhys(dir, [
      { at: here, expr: 'priceA', value: 70, includes: [ALPHA, literalNumber(10)], excludes: [BETA] },
      { at: here, expr: 'priceB', value: 15, includes: [BETA, literalNumber(3)], excludes: [ALPHA, literalNumber(10)] },
      { at: here, expr: 'labelB', value: '5-label', includes: [BETA], excludes: [ALPHA] },
      { at: here, expr: 'level', value: 50, includes: [BETA, literalNumber(10)], excludes: [ALPHA] },
    ]);
    const level = answers[3]!;
    // The enum member's literal is located in the .ts source, not in the compiled JavaScript.
    const enumLine = source.split('\n').findIndex((l) => l.includes('High = 10')) + 1;
    const enumLiteral = [...nodes(level.lineage)].find((n) => n.origin?.kind === 'literal' && /literal 10(?![\w.])/.test(n.origin.detail));
    const where = `${enumLiteral?.origin?.detail ?? ''} ${enumLiteral?.at ?? ''}`;
    assert.match(where, new RegExp(`src/app\\.ts:${enumLine}(?!\\d)`), renderTree(level));
  });

  test('the same TypeScript run by tsx', async () => {
    const dir = libraryWorkdir({ 'src/app.ts': source }, 'retrace-why-');
    const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');
    const { printed } = recordProgram({}, { dir, env: NUMBERS, command: [tsx, 'src/app.ts'] });
    assert.deepEqual(printed, { priceA: 70, priceB: 15, labelB: '5-label', level: 50 });
    const here = at('src/app.ts', source);
    await expectWhys(dir, [
      { at: here, expr: 'priceA', value: 70, includes: [ALPHA], excludes: [BETA] },
      { at: here, expr: 'priceB', value: 15, includes: [BETA], excludes: [ALPHA] },
    ]);
  });
});

describe('scale', () => {
  const program = `
const seed = Number(process.env.ALPHA);
const step = Number(process.env.BETA);
let acc = seed;
let side = 0;
for (let i = 0; i < 1_000_000; i++) {
  acc = (acc * 31 + i) % 1000003;
  side = (side + step) % 97;
}
console.log(JSON.stringify({ acc, side })); // @at
`;
  const MEMORY_LIMIT_KB = 1024 * 1024;

  test('a loop of a million iterations: why finishes, says whether the answer is complete, and stays under 1 GB', { timeout: 240_000 }, (t) => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: NUMBERS });
    let acc = 7;
    let side = 0;
    for (let i = 0; i < 1_000_000; i++) {
      acc = (acc * 31 + i) % 1000003;
      side = (side + 5) % 97;
    }
    assert.deepEqual(printed, { acc, side });
    const here = at('app.mjs', program);
    for (const [expr, value] of [['acc', acc], ['side', side]] as const) {
      const { run, maxRssKb } = whyMeasured(dir, here, expr, 110_000);
      assert.equal(run.status, 0, `why ${expr} finishes\n${describeRun(run)}`);
      const answer = JSON.parse(run.stdout) as WhyResult;
      // Engines may add their own figures (not part of the contract); they are shown, not checked.
      const extra = (answer as { stats?: unknown }).stats;
      t.diagnostic(
        `why ${expr}: complete ${answer.complete}, peak RSS ${maxRssKb === undefined ? 'not measured' : `${Math.round(maxRssKb / 1024)} MB`}` +
          `${extra ? `, engine stats ${JSON.stringify(extra)}` : ''}, notes: ${answer.notes.join(' | ') || 'none'}`,
      );
      assertShows(answer, value);
      if (maxRssKb !== undefined) {
        assert.ok(maxRssKb < MEMORY_LIMIT_KB, `why ${expr} peaked at ${Math.round(maxRssKb / 1024)} MB resident`);
      }
      // Capped or not, an answer never names the input that did not make the value.
      assertExcludes(answer, expr === 'acc' ? BETA : ALPHA);
      if (answer.complete) {
        assertIncludes(answer, expr === 'acc' ? ALPHA : BETA);
      } else {
        // A capped answer names the cap it met, and still reaches the input: the loop's first
        // iterations, which made the nodes before the cap, hang off it.
        assert.ok(answer.notes.some((n) => /cap|max-nodes|limit/i.test(n)), `an incomplete answer names the cap it met\n${answer.notes.join('\n')}`);
        assertIncludes(answer, expr === 'acc' ? ALPHA : BETA);
      }
    }
  });

  // 150,000 live objects with two labelled fields each: over a cap of 40,000 the fields of objects
  // met later keep no label, so the shadow state stays bounded while the program's data grows.
  const heldProgram = `
const a = Number(process.env.ALPHA);
const b = Number(process.env.BETA);
const rows = [];
for (let i = 0; i < 150_000; i++) rows.push({ left: a + i, right: b * i });
const firstLeft = rows[0].left;
const lastLeft = rows[rows.length - 1].left;
console.log(JSON.stringify({ firstLeft, lastLeft, n: rows.length })); // @at
`;

  test('labelled fields of live objects are capped: the answer says so, and what was labelled before the cap keeps its lineage', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': heldProgram }, { env: NUMBERS });
    assert.deepEqual(printed, { firstLeft: 7, lastLeft: 150006, n: 150000 });
    const here = at('app.mjs', heldProgram);
    const cap = ['--max-nodes', '40000'];
    const ask = async (expr: string) => {
      const run = await retraceAsync(dir, [...whyArgs(here, expr), ...cap], 120_000);
      assert.equal(run.status, 0, describeRun(run));
      return JSON.parse(run.stdout) as WhyResult & { stats: { fields: number; passes: { mode: string }[] } };
    };
    const [first, last] = await Promise.all([ask('firstLeft'), ask('lastLeft')]);
    // a program that accepted no connections is traced whole in one replay, without a locating one
    assert.deepEqual(first.stats.passes.map((p) => p.mode), ['trace']);
    assert.deepEqual([first.scope?.traced, first.scope?.reason], ['process', 'no connections']);
    for (const answer of [first, last]) {
      assert.equal(answer.complete, false);
      assert.ok(answer.notes.some((n) => /labelled fields of live objects \(40000\)/.test(n)), answer.notes.join('\n'));
      assert.ok(answer.stats.fields <= 40_000, `live labelled fields ${answer.stats.fields} stay under the cap`);
    }
    assertShows(first, 7);
    assertIncludes(first, ALPHA);
    assertExcludes(first, BETA);
    // past the cap the field has no label of its own: the answer may be empty, never another input
    assertShows(last, 150006);
    assertExcludes(last, BETA);
  });
});

describe('why errors', () => {
  const program = `
const a = Number(process.env.ALPHA);
function never() {
  return a * 2; // @never
}
function scale(x) {
  return x * 3; // @scale
}
const first = scale(a);
const second = scale(Number(process.env.BETA));
console.log(JSON.stringify({ first, second })); // @at
`;

  /** Fails unless `retrace <args>` exits 2 with one line `retrace: ...` on stderr and nothing on stdout. */
  const oneLineError = async (dir: string, args: string[], pattern?: RegExp): Promise<void> => {
    const r = await retraceAsync(dir, args);
    const what = `retrace ${args.join(' ')}\n${describeRun(r)}`;
    assert.equal(r.status, 2, `exit status 2: ${what}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line on stderr: ${what}`);
    assert.match(lines[0]!, /^retrace: /, what);
    if (pattern) assert.match(lines[0]!, pattern, what);
    assert.equal(r.stdout, '', `nothing on stdout: ${what}`);
  };

  test('--hit picks a hit and the default is the last; without --json the answer is readable text, with --html a page', async () => {
    const { dir, printed } = recordProgram({ 'app.mjs': program }, { env: NUMBERS });
    assert.deepEqual(printed, { first: 21, second: 15 });
    const inScale = at('app.mjs', program, 'scale');
    const [answers, text] = await Promise.all([
      expectWhys(dir, [
        { at: inScale, expr: 'x', hit: 1, value: 7, includes: [ALPHA], excludes: [BETA] },
        { at: inScale, expr: 'x', hit: 'last', value: 5, includes: [BETA], excludes: [ALPHA] },
      ]),
      retraceAsync(dir, ['why', 'recording', '--at', at('app.mjs', program), '--expr', 'second', '--html', 'why.html']),
    ]);
    const [first, last] = answers as [WhyResult, WhyResult];
    const html = fs.readFileSync(path.join(dir, 'why.html'), 'utf8');
    assert.match(html, /<html/i, '--html writes an HTML page');
    assert.match(html, /BETA/, 'the page names the origin');
    assert.match(html, /traced: the whole process/, 'the page says what was traced');
    // hits counts up to where the replay stopped, so it is only checked for the last hit.
    assert.equal(first.hit, 1);
    assert.deepEqual([last.hit, last.hits], [2, 2]);
    assert.equal(text.status, 0, describeRun(text));
    assert.match(text.stdout, /15/);
    assert.match(text.stdout, /traced: the whole process \(no connections to narrow to\)/);
    assert.match(text.stdout, /BETA/);
    assert.doesNotMatch(text.stdout, /ALPHA/);
  });

  test('a location that never ran, a hit that never came, a bad expression or missing arguments: one-line errors', async () => {
    const { dir } = recordProgram({ 'app.mjs': program }, { env: NUMBERS });
    const here = at('app.mjs', program);
    await Promise.all([
      oneLineError(dir, whyArgs(at('app.mjs', program, 'never'), 'a')),
      oneLineError(dir, whyArgs('app.mjs:999', 'a')),
      oneLineError(dir, whyArgs('no-such-file.mjs:1', 'a'), /no-such-file\.mjs/),
      oneLineError(dir, whyArgs(here, 'noSuchName'), /noSuchName/),
      oneLineError(dir, whyArgs(here, 'first.missing.deeper')),
      oneLineError(dir, whyArgs(at('app.mjs', program, 'scale'), 'x', { hit: 3 })),
      oneLineError(dir, ['why', 'recording', '--expr', 'first']),
      oneLineError(dir, ['why', 'recording', '--at', here]),
      oneLineError(dir, ['why', 'recording', '--at', here, '--expr', 'first', '--hit', 'zero']),
      oneLineError(dir, ['why', 'no-such-recording', '--at', here, '--expr', 'first'], /no-such-recording/),
    ]);
  });
});


describe('provenance test helpers', () => {
  const leaf = (detail: string, kind = 'env', value = '"7"'): LineageNode => ({ value, op: 'input', origin: { kind, event: 0, detail } });
  const answer = (lineage: LineageNode): WhyResult => ({ at: 'app.mjs:3:1', expr: 'x', hit: 1, hits: 1, value: '12', complete: true, notes: [], lineage });

  test('markers, origin matchers and shown values', () => {
    assert.equal(lineOf('a\nb // @at\nc // @other'), 2);
    assert.equal(lineOf('a\nb // @at\nc // @other', 'other'), 3);
    assert.throws(() => lineOf('a // @at\nb // @at'), /found 2/);
    assert.throws(() => lineOf('a // @attic'), /found 0/);
    assert.ok(matches(leaf('env ALPHA, event 0'), ALPHA));
    assert.ok(!matches(leaf('env ALPHABET, event 0'), ALPHA));
    assert.ok(!matches(leaf('env ALPHA, event 0', 'file'), ALPHA));
    assert.ok(matches(leaf('literal 10 at src/app.ts:3', 'literal', '10'), literalNumber(10)));
    assert.ok(!matches(leaf('literal 100 at src/app.ts:3', 'literal', '100'), literalNumber(10)));
    assert.ok(matches(leaf('Math.random #2', 'random', '0.25'), randomResult(0.25)));
    assert.ok(!matches(leaf('Math.random #1', 'random', '0.5'), randomResult(0.25)));
    assertShows({ ...answer(leaf('env A')), value: "'red'" }, 'red');
    assertShows({ ...answer(leaf('env A')), value: '25252.5' }, 25252.5);
    assert.throws(() => assertShows({ ...answer(leaf('env A')), value: '7' }, 8));
  });

  test('an answer that links everything to everything fails an independent case; an empty one fails a dependent case', () => {
    const linkedToAll = answer({
      value: '12',
      op: '+',
      inputs: [{ value: '5', op: 'Number()', inputs: [leaf('env BETA, event 0', 'env', '"5"')] }, { value: '7', op: 'Number()', inputs: [leaf('env ALPHA, event 0')] }],
    });
    assertIncludes(linkedToAll, BETA);
    assert.throws(() => assertExcludes(linkedToAll, ALPHA), /must not include env ALPHA/);
    assert.throws(() => assertIncludes(answer({ value: '12', op: 'no lineage' }), BETA), /must include env BETA/);
    assert.throws(() => checkAnswer(answer({ value: '12', op: '+' }), 'app.mjs:3', 'x', { value: 12, excludes: [ALPHA] }), /names an origin/);
    assert.throws(() => assertWellFormed({ ...linkedToAll, hits: 0 }), /hits/);
  });
});
