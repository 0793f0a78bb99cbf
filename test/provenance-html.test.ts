// `retrace why --html`: the page opened in a real browser (Debian's chromium through
// playwright-core, headless, 1400×900). It must open on the answer (the origins in words at the top,
// in view), draw the whole graph inside the window, count the hits of the line right, and highlight
// the path from the value to an origin when it is clicked. A screenshot is kept in
// test-artifacts/ (gitignored) for a person to look at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot, retrace, describeRun } from './helpers.js';
import { lineOf, recordProgram } from './provenance-helpers.js';

const CHROMIUM = '/usr/bin/chromium';

const program = `
const base = Number(process.env.BASE);
const extra = Number(process.env.EXTRA);
const unused = Number(process.env.UNUSED);
let total = 0;
for (let i = 1; i <= 6; i++) {
  const price = base * i + extra;
  total += price + unused * 0; // @at
}
console.log(JSON.stringify({ total }));
`;

test('why --html in a browser: opens on the origins, fits the graph to the window, counts hits, highlights the path to an origin', async (t) => {
  if (!fs.existsSync(CHROMIUM)) {
    t.skip(`no ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const { dir } = recordProgram({ 'app.mjs': program }, { env: { BASE: '10', EXTRA: '3', UNUSED: '99' } });
  const page = path.join(dir, 'why.html');
  const at = `app.mjs:${lineOf(program)}`;
  const r = retrace(dir, ['why', 'recording', '--at', at, '--expr', 'price', '--hit', '3', '--html', page], { timeout: 60_000 });
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stdout, /hit 3 of 6/, `the text answer counts every hit of the line\n${r.stdout}`);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'retrace-chromium-'));
  // a fresh profile each run (playwright passes it as --user-data-dir)
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const tab = browser.pages()[0] ?? (await browser.newPage());
    await tab.goto(`file://${page}`);
    const viewport = { width: 1400, height: 900 };
    const inView = (b: { x: number; y: number; width: number; height: number } | null, what: string) => {
      assert.ok(b, `${what} is drawn`);
      assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.width <= viewport.width + 0.5 && b.y + b.height <= viewport.height + 0.5, `${what} is inside the 1400×900 window: ${JSON.stringify(b)}`);
    };

    // the answer first: the header counts the hits right and names the origins in words, in view
    const heading = await tab.locator('header h1').innerText();
    assert.match(heading, /price = 33 at app\.mjs:\d+(:\d+)? \(hit 3 of 6\)/, heading);
    const origins = tab.locator('#origins');
    const originsText = await origins.innerText();
    assert.match(originsText, /It came from/);
    assert.match(originsText, /env BASE/);
    assert.match(originsText, /env EXTRA/);
    assert.doesNotMatch(originsText, /env UNUSED/, 'an input read next to the value but not used for it is not an origin');
    inView(await origins.boundingBox(), 'the origins in words');

    // the whole graph inside the window: every node's box is within the viewport
    const boxes = await tab.locator('svg g.node').evaluateAll((els) => els.map((e) => { const b = e.getBoundingClientRect(); return { x: b.x, y: b.y, width: b.width, height: b.height }; }));
    assert.ok(boxes.length >= 4, `the graph has the value, its operations and its origins (${boxes.length} nodes)`);
    const union = boxes.reduce((u, b) => ({ x: Math.min(u.x, b.x), y: Math.min(u.y, b.y), r: Math.max(u.r, b.x + b.width), b: Math.max(u.b, b.y + b.height) }), { x: Infinity, y: Infinity, r: -Infinity, b: -Infinity });
    inView({ x: union.x, y: union.y, width: union.r - union.x, height: union.b - union.y }, 'the whole graph');

    // clicking an origin highlights the path from the value (the leftmost node) to it
    const originNode = tab.locator('svg g.node.origin').filter({ hasText: 'env EXTRA' }).first();
    await originNode.click();
    const onPath = await tab.locator('svg g.node.onpath').count();
    assert.ok(onPath >= 2, `the path from the value to the origin is highlighted (${onPath} nodes)`);
    assert.equal(await tab.locator('svg g.node.onpath').filter({ hasText: 'env EXTRA' }).count(), 1, 'the clicked origin is on the path');
    assert.equal(await tab.locator('svg g.node[data-id="0"].onpath').count(), 1, 'the value itself is where the path starts');
    assert.ok((await tab.locator('svg path.edge.onpath').count()) >= onPath - 1, 'the edges between them are highlighted too');
    assert.equal(await tab.locator('svg g.node.onpath').filter({ hasText: 'env BASE' }).count(), 0, 'another origin is not on the path');
    assert.match(await tab.locator('#details').innerText(), /env EXTRA/);

    // zoom and fit keep working
    await tab.locator('#zin').click();
    await tab.locator('#fit').click();
    const artifacts = path.join(repoRoot, 'test-artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    await tab.screenshot({ path: path.join(artifacts, 'why-html.png') });
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
