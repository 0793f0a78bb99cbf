// `retrace why --html FILE`: a self-contained page that draws the lineage as a graph, left to right
// from the value to its origins; clicking a node folds or unfolds what it came from and shows its
// details.
import { scopeLine, type WhyResult } from './format.js';

export function renderHtml(r: WhyResult): string {
  const data = JSON.stringify(r).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>retrace why ${escapeHtml(r.expr)} at ${escapeHtml(r.at)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;color:#222}
header{padding:12px 16px;border-bottom:1px solid #ddd;background:#fafafa}
#graph{overflow:auto;padding:16px}
svg text{font:12px ui-monospace,monospace}
.node rect{fill:#fff;stroke:#888;rx:6}
.node.origin rect{fill:#e8f4ff;stroke:#2a6fb0}
.node.literal rect{fill:#f3f3f3}
.node.imprecise rect{stroke-dasharray:4 3}
.node.selected rect{stroke:#d33;stroke-width:2}
.node{cursor:pointer}
path.edge{fill:none;stroke:#aaa}
#details{position:fixed;right:0;top:0;width:340px;height:100%;overflow:auto;background:#fff;border-left:1px solid #ddd;padding:12px;box-sizing:border-box;font-size:13px}
#details pre{white-space:pre-wrap;word-break:break-all}
.note{color:#a60}
</style></head><body>
<header><b>why</b> <code>${escapeHtml(r.expr)}</code> = <code>${escapeHtml(r.value)}</code> at <code>${escapeHtml(r.at)}</code> (hit ${r.hit} of ${r.hits})
${r.scope ? `<div>${escapeHtml(scopeLine(r.scope))}</div>` : ''}
${r.notes.map((n) => `<div class="note">${escapeHtml(n)}</div>`).join('')}
<div>Click a node to fold or unfold its inputs; its details appear on the right.</div></header>
<div id="graph"></div><div id="details"><i>no node selected</i></div>
<script>
const result = ${data};
const W = 260, H = 38, GX = 60, GY = 12;
let id = 0;
function prep(n){ n._id = id++; n._open = true; (n.inputs||[]).forEach(prep); }
if (result.lineage) prep(result.lineage);
function label(n){ if (n.origin) return (n.origin.detail || n.origin.kind); return n.op + (n.at ? ' @ ' + n.at : ''); }
function layout(n, depth, y){ n._x = depth * (W + GX) + 10; const kids = n._open ? (n.inputs||[]) : [];
  if (!kids.length){ n._y = y; return y + H + GY; }
  let yy = y; for (const k of kids) yy = layout(k, depth + 1, yy);
  n._y = (kids[0]._y + kids[kids.length-1]._y) / 2; return yy; }
function esc(s){ return String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
function cut(s, n){ s = String(s); return s.length > n ? s.slice(0, n - 1) + '…' : s; }
let selected = null;
function draw(){
  const g = document.getElementById('graph'); if (!result.lineage){ g.textContent = 'no lineage'; return; }
  const height = layout(result.lineage, 0, 10);
  let maxX = 0, edges = '', nodes = '';
  (function visit(n){ maxX = Math.max(maxX, n._x + W);
    const kids = n._open ? (n.inputs||[]) : [];
    for (const k of kids){ edges += '<path class="edge" d="M'+(n._x+W)+','+(n._y+H/2)+' C'+(n._x+W+GX/2)+','+(n._y+H/2)+' '+(k._x-GX/2)+','+(k._y+H/2)+' '+k._x+','+(k._y+H/2)+'"/>'; visit(k); }
    const cls = 'node' + (n.origin ? (n.origin.kind === 'literal' ? ' literal' : ' origin') : '') + (n.imprecise ? ' imprecise' : '') + (selected === n._id ? ' selected' : '');
    const more = (n.inputs||[]).length && !n._open ? ' ▸ ' + n.inputs.length : '';
    nodes += '<g class="'+cls+'" data-id="'+n._id+'" transform="translate('+n._x+','+n._y+')"><rect width="'+W+'" height="'+H+'"/>'
      + '<text x="8" y="15">'+esc(cut(n.value, 34))+esc(more)+(n.via ? ' (via '+n.via+')' : '')+'</text>'
      + '<text x="8" y="30" fill="#555">'+esc(cut(label(n), 38))+'</text></g>';
  })(result.lineage);
  g.innerHTML = '<svg width="'+(maxX+20)+'" height="'+(height+10)+'">'+edges+nodes+'</svg>';
  g.querySelectorAll('g.node').forEach(el => el.addEventListener('click', () => {
    const n = find(result.lineage, Number(el.dataset.id)); n._open = !n._open; selected = n._id; show(n); draw(); }));
}
function find(n, i){ if (n._id === i) return n; for (const k of n.inputs||[]){ const f = find(k, i); if (f) return f; } return null; }
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
