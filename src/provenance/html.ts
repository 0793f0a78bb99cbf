// `retrace why --html FILE`: a self-contained page that opens on the answer. At the top, the value
// and where it came from in words (the recorded inputs, then the literals of the code); below, the
// lineage drawn as a graph from the value (left) to its origins (right), fitted to the window, with
// pan (drag) and zoom (wheel, buttons). Clicking a node or an origin in the list highlights the path
// from the value to it and shows its details; double-clicking a node folds or unfolds its inputs.
import { scopeLine, type WhyResult } from './format.js';
import type { LineageNode } from './tree.js';

/** The origins of the answer, in words, once each: recorded inputs first, then literals. */
export function originsInWords(lineage: LineageNode | null): { inputs: string[]; literals: string[]; unknown: number } {
  const inputs = new Set<string>();
  const literals = new Set<string>();
  let unknown = 0;
  const stack = lineage ? [lineage] : [];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.origin) {
      const words = n.origin.detail ?? n.origin.kind;
      if (n.origin.kind === 'literal') literals.add(words);
      else if (n.origin.kind === 'unknown') unknown++;
      else inputs.add(words);
    }
    for (const k of n.inputs ?? []) stack.push(k);
  }
  return { inputs: [...inputs], literals: [...literals], unknown };
}

export function renderHtml(r: WhyResult): string {
  const data = JSON.stringify(r).replace(/</g, '\\u003c');
  const words = originsInWords(r.lineage);
  const list = (items: string[]) => items.map((w, i) => `<li data-origin="${i}">${escapeHtml(w)}</li>`).join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>retrace why ${escapeHtml(r.expr)} at ${escapeHtml(r.at)}</title>
<style>
html,body{height:100%}
body{font:14px system-ui,sans-serif;margin:0;color:#222;display:flex;flex-direction:column;overflow:hidden}
header{padding:10px 16px;border-bottom:1px solid #ddd;background:#fafafa;max-height:38vh;overflow:auto;flex:none}
header h1{font-size:16px;margin:0 0 6px}
#origins ul{margin:4px 0 4px 18px;padding:0}
#origins li{cursor:pointer}
#origins li:hover,#origins li.active{color:#c22;text-decoration:underline}
.meta{color:#555;font-size:13px}
.note{color:#a60;font-size:13px}
main{flex:1;display:flex;min-height:0}
#graph{flex:1;position:relative;min-width:0;background:#fff}
#graph svg{width:100%;height:100%;display:block;cursor:grab}
#graph svg.dragging{cursor:grabbing}
#zoom{position:absolute;left:8px;top:8px;display:flex;gap:4px}
#zoom button{font:13px system-ui;padding:2px 8px}
svg text{font:12px ui-monospace,monospace;pointer-events:none}
.node rect{fill:#fff;stroke:#888;rx:6}
.node.origin rect{fill:#e8f4ff;stroke:#2a6fb0}
.node.literal rect{fill:#f3f3f3}
.node.unknown rect{fill:#fff3e0;stroke:#c60}
.node.imprecise rect{stroke-dasharray:4 3}
.node.onpath rect{stroke:#d33;stroke-width:2.5}
.node.selected rect{fill:#ffecec}
.node{cursor:pointer}
path.edge{fill:none;stroke:#aaa}
path.edge.onpath{stroke:#d33;stroke-width:2.5}
#details{width:320px;flex:none;overflow:auto;background:#fff;border-left:1px solid #ddd;padding:12px;box-sizing:border-box;font-size:13px}
#details pre{white-space:pre-wrap;word-break:break-all}
</style></head><body>
<header>
<h1><code>${escapeHtml(r.expr)}</code> = <code>${escapeHtml(r.value)}</code> at <code>${escapeHtml(r.at)}</code> (hit ${r.hit} of ${r.hits})</h1>
<div id="origins">${
    words.inputs.length || words.literals.length
      ? `<b>It came from</b>${words.inputs.length ? `<ul id="inputs">${list(words.inputs)}</ul>` : ' <i>no recorded input</i>'}${
          words.literals.length ? `<div class="meta">and the literals ${words.literals.map(escapeHtml).join('; ')}</div>` : ''
        }${words.unknown ? `<div class="note">${words.unknown} value(s) of unknown origin (see the orange nodes)</div>` : ''}`
      : '<b>No lineage</b>: nothing recorded or written in the code reached this value.'
  }</div>
<div class="meta">${r.complete ? 'complete: every origin is exact' : 'not complete: see the notes'}${r.scope ? ` · ${escapeHtml(scopeLine(r.scope))}` : ''}</div>
${r.notes.map((n) => `<div class="note">${escapeHtml(n)}</div>`).join('')}
<div class="meta">Click a node or an origin to highlight its path from the value; double-click a node to fold or unfold its inputs; drag to pan, wheel to zoom.</div>
</header>
<main><div id="graph"><div id="zoom"><button id="fit" title="fit the graph to the window">fit</button><button id="zin">+</button><button id="zout">−</button></div></div>
<div id="details"><i>no node selected</i></div></main>
<script>
const result = ${data};
const originWords = ${JSON.stringify(words.inputs).replace(/</g, '\\u003c')};
const W = 260, H = 38, GX = 60, GY = 12;
let id = 0;
const parent = new Map();
function prep(n, p){ n._id = id++; n._open = true; if (p) parent.set(n._id, p); (n.inputs||[]).forEach(k => prep(k, n)); }
if (result.lineage) prep(result.lineage, null);
function label(n){ if (n.origin) return (n.origin.detail || n.origin.kind); return n.op + (n.at ? ' @ ' + n.at : ''); }
function words(n){ return n.origin && n.origin.kind !== 'literal' && n.origin.kind !== 'unknown' ? (n.origin.detail || n.origin.kind) : null; }
function layout(n, depth, y){ n._x = depth * (W + GX); const kids = n._open ? (n.inputs||[]) : [];
  if (!kids.length){ n._y = y; return y + H + GY; }
  let yy = y; for (const k of kids) yy = layout(k, depth + 1, yy);
  n._y = (kids[0]._y + kids[kids.length-1]._y) / 2; return yy; }
function esc(s){ return String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
function cut(s, n){ s = String(s); return s.length > n ? s.slice(0, n - 1) + '…' : s; }
let selected = null, onPath = new Set();
let view = null, bounds = null;
const graph = document.getElementById('graph');
function draw(){
  if (!result.lineage){ graph.insertAdjacentHTML('beforeend', '<p style="padding:16px">no lineage</p>'); return; }
  const height = layout(result.lineage, 0, 0) - GY;
  let maxX = 0, edges = '', nodes = '';
  (function visit(n){ maxX = Math.max(maxX, n._x + W);
    const kids = n._open ? (n.inputs||[]) : [];
    for (const k of kids){ const hot = onPath.has(k._id) && onPath.has(n._id);
      edges += '<path class="edge'+(hot ? ' onpath' : '')+'" d="M'+(n._x+W)+','+(n._y+H/2)+' C'+(n._x+W+GX/2)+','+(n._y+H/2)+' '+(k._x-GX/2)+','+(k._y+H/2)+' '+k._x+','+(k._y+H/2)+'"/>'; visit(k); }
    const kind = n.origin ? (n.origin.kind === 'literal' ? ' literal' : n.origin.kind === 'unknown' ? ' unknown' : ' origin') : '';
    const cls = 'node' + kind + (n.imprecise ? ' imprecise' : '') + (onPath.has(n._id) ? ' onpath' : '') + (selected === n._id ? ' selected' : '');
    const more = (n.inputs||[]).length && !n._open ? ' ▸ ' + n.inputs.length : '';
    nodes += '<g class="'+cls+'" data-id="'+n._id+'" transform="translate('+n._x+','+n._y+')"><rect width="'+W+'" height="'+H+'"/>'
      + '<text x="8" y="15">'+esc(cut(n.value, 34))+esc(more)+(n.via ? ' (via '+n.via+')' : '')+'</text>'
      + '<text x="8" y="30" fill="#555">'+esc(cut(label(n), 38))+'</text></g>';
  })(result.lineage);
  bounds = { x: -10, y: -10, w: maxX + 20, h: height + 20 };
  if (!view) view = fitted();
  const old = graph.querySelector('svg'); if (old) old.remove();
  graph.insertAdjacentHTML('afterbegin', '<svg xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'+edges+nodes+'</svg>');
  apply();
  graph.querySelectorAll('g.node').forEach(el => {
    el.addEventListener('click', (e) => { e.stopPropagation(); select(Number(el.dataset.id)); });
    el.addEventListener('dblclick', (e) => { e.stopPropagation(); const n = find(result.lineage, Number(el.dataset.id)); n._open = !n._open; draw(); });
  });
}
/** The whole graph in the window. */
function fitted(){ return { x: bounds.x, y: bounds.y, w: bounds.w, h: bounds.h }; }
function apply(){ const svg = graph.querySelector('svg'); if (svg) svg.setAttribute('viewBox', view.x+' '+view.y+' '+view.w+' '+view.h); }
function zoom(f, cx, cy){ const nx = cx - (cx - view.x) * f, ny = cy - (cy - view.y) * f; view = { x: nx, y: ny, w: view.w * f, h: view.h * f }; apply(); }
function toGraph(e){ const svg = graph.querySelector('svg'); const p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY; return p.matrixTransform(svg.getScreenCTM().inverse()); }
graph.addEventListener('wheel', (e) => { e.preventDefault(); const p = toGraph(e); zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, p.x, p.y); }, { passive: false });
let drag = null;
graph.addEventListener('pointerdown', (e) => { if (e.target.closest('g.node') || e.target.closest('#zoom')) return; drag = { x: e.clientX, y: e.clientY, view: Object.assign({}, view) }; graph.querySelector('svg').classList.add('dragging'); });
window.addEventListener('pointermove', (e) => { if (!drag) return; const svg = graph.querySelector('svg'); const s = svg.getScreenCTM().a; view = Object.assign({}, drag.view, { x: drag.view.x - (e.clientX - drag.x) / s, y: drag.view.y - (e.clientY - drag.y) / s }); apply(); });
window.addEventListener('pointerup', () => { drag = null; const svg = graph.querySelector('svg'); if (svg) svg.classList.remove('dragging'); });
document.getElementById('fit').onclick = () => { view = fitted(); apply(); };
document.getElementById('zin').onclick = () => zoom(1 / 1.3, view.x + view.w / 2, view.y + view.h / 2);
document.getElementById('zout').onclick = () => zoom(1.3, view.x + view.w / 2, view.y + view.h / 2);
function find(n, i){ if (n._id === i) return n; for (const k of n.inputs||[]){ const f = find(k, i); if (f) return f; } return null; }
/** Highlights the path from the value to node i, and shows the node's details. */
function select(i){
  const n = find(result.lineage, i); if (!n) return;
  selected = i; onPath = new Set();
  for (let at = n; at; at = parent.get(at._id)) { onPath.add(at._id); at._open = true; }
  document.querySelectorAll('#inputs li').forEach(li => li.classList.toggle('active', words(n) === originWords[Number(li.dataset.origin)]));
  show(n); draw();
}
document.querySelectorAll('#inputs li').forEach(li => li.addEventListener('click', () => {
  const want = originWords[Number(li.dataset.origin)];
  const stack = [result.lineage]; while (stack.length){ const n = stack.shift(); if (words(n) === want){ select(n._id); return; } for (const k of n.inputs||[]) stack.push(k); }
}));
function show(n){ const d = document.getElementById('details');
  const copy = Object.assign({}, n); delete copy.inputs; for (const k of Object.keys(copy)) if (k[0] === '_') delete copy[k];
  d.innerHTML = '<b>'+esc(n.op)+'</b><pre>'+esc(JSON.stringify(copy, null, 2))+'</pre>' + ((n.inputs||[]).length ? '<div>'+n.inputs.length+' input(s)</div>' : ''); }
draw();
</script></body></html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
