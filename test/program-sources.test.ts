// Sources of difference real programs use beyond the basic boundaries: zlib streams, event-loop
// metrics, other realms (vm contexts), bytes that change run to run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRun, record, replay, runPlain, workdir, writeFiles } from './helpers.js';

/** Records the program, replays it twice offline, and checks replays print what the recording printed. */
function recordAndReplay(dir: string, file = 'app.js'): string {
  const rec = record(dir, ['node', file]);
  assert.equal(rec.status, 0, describeRun(rec));
  for (let i = 0; i < 2; i++) {
    const rep = replay(dir, [], { offline: true });
    assert.equal(rep.status, 0, describeRun(rep));
    assert.equal(rep.stdout, rec.stdout, describeRun(rep));
  }
  return rec.stdout;
}

test('zlib streams (gzip, gunzip, deflate, brotli) deliver their chunks in the recorded turns, between timers', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      const zlib = require('node:zlib');
      const { pipeline, Readable, Writable } = require('node:stream');
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      // Incompressible input (from the recorded randomness) so that each stream makes many chunks.
      const input = require('node:crypto').randomBytes(1 << 20);
      const seen = [];
      const sink = (name) => new Writable({ write(chunk, _enc, cb) { seen.push(name + ' ' + chunk.length + ' at tick ' + ticks); cb(); } });
      let left = 3;
      const done = (name) => (err) => {
        seen.push(name + ' done ' + (err ? err.code : 'ok'));
        if (--left === 0) { clearInterval(timer); console.log(seen.join('\\n')); console.log('ticks seen', seen.filter((l) => !l.endsWith('at tick 0')).length > 0); }
      };
      pipeline(Readable.from([input.subarray(0, 1 << 19), input.subarray(1 << 19)]), zlib.createGzip(), zlib.createGunzip(), sink('gzip'), done('gzip'));
      pipeline(Readable.from([input]), zlib.createDeflate({ level: 1 }), sink('deflate'), done('deflate'));
      pipeline(Readable.from([input]), zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }), zlib.createBrotliDecompress(), sink('brotli'), done('brotli'));
    `,
  });
  const out = recordAndReplay(dir);
  assert.match(out, /gzip done ok/);
  assert.match(out, /brotli done ok/);
  // Unrecorded runs interleave the chunks and the timer differently.
  assert.notEqual(runPlain(dir, ['app.js']).stdout, runPlain(dir, ['app.js']).stdout);
});

test('event-loop metrics (eventLoopUtilization, monitorEventLoopDelay, histograms) replay as recorded', () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      const { performance, monitorEventLoopDelay, createHistogram } = require('node:perf_hooks');
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      const elu1 = performance.eventLoopUtilization();
      const own = createHistogram();
      const busy = () => { const end = Date.now() + 15; while (Date.now() < end); };
      let n = 0;
      const t = setInterval(() => {
        busy();
        own.recordDelta();
        if (++n < 4) return;
        clearInterval(t);
        h.disable();
        const elu = performance.eventLoopUtilization(elu1);
        console.log('elu', elu.utilization, elu.active, elu.idle);
        console.log('delay', h.min, h.max, h.mean, h.stddev, h.percentile(99), h.count, [...h.percentiles.entries()].length, h.maxBigInt);
        console.log('own', own.count, own.max, own.percentile(50));
      }, 20);
    `,
  });
  const out = recordAndReplay(dir);
  assert.match(out, /^elu 0\.\d+/);
  assert.notEqual(runPlain(dir, ['app.js']).stdout, runPlain(dir, ['app.js']).stdout);
});

test("another realm's Date and Math.random (vm.runInNewContext, createContext, Script#runInNewContext) replay as recorded", () => {
  const dir = workdir();
  writeFiles(dir, {
    'app.js': `
      const vm = require('node:vm');
      console.log(vm.runInNewContext('[Date.now(), Math.random(), new Date().toISOString(), typeof Date(), x].join(" ")', { x: 5 }));
      const ctx = vm.createContext({});
      console.log(vm.runInContext('Math.random() + " " + (new Date() instanceof Date) + " " + new Date(0).getTime()', ctx));
      console.log(new vm.Script('Math.random()').runInNewContext());
    `,
  });
  const out = recordAndReplay(dir);
  assert.match(out, / string 5\n\d\.\d+ true 0\n/);
  assert.notEqual(runPlain(dir, ['app.js']).stdout, runPlain(dir, ['app.js']).stdout);
});
