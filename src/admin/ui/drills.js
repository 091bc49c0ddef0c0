// drills.js -- drills: start (live, scoped or shadow), abort, the running
// ones and the history, and a drill's recovery timeline drawn as an SVG
// chart (report.timeline: per affected record, when it first answered
// without the lost targets, and after the end, from them again).

import { api } from './api.js';
import { badge, clear, el, since, svg, table, when } from './dom.js';

const RO = 'needs the operate token';
let f = null;
let result = null;
let list = null;
let chart = null;
let shown = null; // the drill id whose timeline is drawn

export function mount(ctx, root) {
  const dis = !ctx.operate;
  f = {
    targets: el('input', { id: 'dr-targets', placeholder: 'regions and azs: region:eu, az:us-1a', size: 30 }),
    mode: el('select', { id: 'dr-mode' }, ['shadow', 'scoped', 'live'].map((m) => el('option', { value: m, text: m }))),
    duration: el('input', { id: 'dr-duration', type: 'number', min: '1', value: '300', size: 6 }),
    reason: el('input', { id: 'dr-reason', placeholder: 'reason', size: 24 }),
    canary: el('input', { id: 'dr-canary', placeholder: 'canary networks (scoped)', size: 22 }),
    start: el('button', { id: 'dr-start', type: 'submit', text: 'Start', disabled: dis, title: dis ? RO : null }),
  };
  root.appendChild(el('h2', { text: 'Start a drill' }));
  root.appendChild(el('form', { class: 'inline', id: 'drill-form', onsubmit: (e) => { e.preventDefault(); start(); } },
    f.targets, f.mode, el('label', { for: 'dr-duration', text: 'seconds' }), f.duration, f.reason, f.canary, f.start));
  if (dis) root.appendChild(el('p', { class: 'note', text: 'Read-only: starting and aborting drills ' + RO + '.' }));
  result = el('div', { id: 'dr-result' });
  root.appendChild(result);
  list = el('div', { id: 'dr-list' });
  root.appendChild(list);
  root.appendChild(el('h2', { text: 'Recovery timeline' }));
  chart = el('div', { id: 'dr-chart' }, el('p', { class: 'muted', text: 'choose a drill with "Timeline"' }));
  root.appendChild(chart);
  // The report grows while the drill is measured: follow drill events.
  ctx.onEvent((type) => { if (type === 'drill' && shown) draw(shown); });
}

function spec() {
  const regions = [];
  const azs = [];
  for (const t of f.targets.value.split(/[\s,]+/).filter(Boolean)) {
    if (t.startsWith('az:')) azs.push(t.slice(3));
    else regions.push(t.replace(/^region:/, ''));
  }
  const b = { mode: f.mode.value, reason: f.reason.value.trim(), duration: Number(f.duration.value) };
  if (regions.length) b.regions = regions;
  if (azs.length) b.azs = azs;
  const canary = f.canary.value.split(/[\s,]+/).filter(Boolean);
  if (b.mode === 'scoped') b.canary = canary;
  return b;
}

function error(e) {
  clear(result).appendChild(el('p', { class: 'error', id: 'dr-error',
    text: (e.status ? e.status + ' ' + e.code + ': ' : '') + e.message }));
}

async function start() {
  try {
    const d = await api('POST', '/v1/drills', spec());
    clear(result).appendChild(el('p', { text: 'started ' + d.id + ' (' + d.mode + ')' }));
    draw(d.id);
  } catch (e) {
    error(e);
  }
}

async function abort(id) {
  try {
    await api('DELETE', '/v1/drills/' + encodeURIComponent(id));
    clear(result).appendChild(el('p', { text: 'aborted ' + id }));
  } catch (e) {
    error(e);
  }
}

function rows(ds, dis) {
  return ds.map((d) => el('tr', { 'data-drill': d.id }, el('td', { text: d.id }), el('td', { text: d.name || '' }),
    el('td', { text: d.mode }), el('td', { text: d.targets.join(', ') }), el('td', { text: d.reason }),
    el('td', {}, d.state === 'active' ? since(d.started) : when(d.started)),
    el('td', {}, d.result ? badge(d.result === 'passed' ? 'up' : 'down') : null, ' ', d.result || 'running',
      d.end_reason ? el('div', { class: 'muted', text: d.end_reason }) : null),
    el('td', {}, el('button', { type: 'button', text: 'Timeline', onclick: () => draw(d.id) }),
      d.state === 'active' ? el('button', { type: 'button', text: 'Abort', disabled: dis, title: dis ? RO : null,
        onclick: () => abort(d.id) }) : null)));
}

export async function update(ctx) {
  let x;
  try {
    x = await api('GET', '/v1/drills');
  } catch (e) {
    clear(list).appendChild(el('p', { class: 'error', text: e.message }));
    return;
  }
  const heads = ['id', 'name', 'mode', 'targets', 'reason', 'started', 'result', ''];
  clear(list).appendChild(el('div', {}, el('h2', { text: 'Running' }), table(heads, rows(x.active, !ctx.operate)),
    el('h2', { text: 'History' }), table(heads, rows(x.history.slice(0, 20), true))));
  if (shown) draw(shown);
}

async function draw(id) {
  shown = id;
  let d;
  try {
    d = await api('GET', '/v1/drills/' + encodeURIComponent(id));
  } catch (e) {
    clear(chart).appendChild(el('p', { class: 'error', text: e.message }));
    return;
  }
  const tl = d.report && d.report.timeline;
  clear(chart);
  chart.appendChild(el('p', {}, d.id + ' ' + d.mode + ' ' + d.targets.join(', ') + ': ',
    tl ? 'timeline ' + tl.state + ', RTO ' + fmt(tl.rto) + ', RTO + TTL ' + fmt(tl.rto_plus_ttl) +
      ', lost answers ' + tl.lost_answers + (tl.restore ? ', restore RTO ' + fmt(tl.restore.rto) : '')
      : 'no timeline (a shadow drill, or no answer changes)'));
  if (tl) chart.appendChild(timeline(tl));
}

function fmt(s) { return s === null || s === undefined ? '-' : (s * 1000).toFixed(0) + ' ms'; }

// One row per affected record: red from the start until it avoided the
// targets, green while it did, grey after the end until it was restored.
function timeline(tl) {
  const recs = tl.records || [];
  const t0 = tl.started;
  const now = Date.now() / 1000;
  let t1 = Math.max(tl.all_avoiding || t0, tl.ended || now);
  for (const r of recs) t1 = Math.max(t1, r.restored || 0);
  if (tl.ended === null && t1 - t0 > 10) t1 = Math.min(t1, t0 + Math.max(5, (tl.all_avoiding || t0) - t0 + 3));
  const span = Math.max(t1 - t0, 0.1);
  const W = 760; const L = 220; const H = 22 * recs.length + 50;
  const x = (t) => L + ((Math.min(t, t1) - t0) / span) * (W - L - 20);
  const g = svg('svg', { class: 'timeline', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' },
    svg('title', { text: 'recovery timeline' }));
  recs.forEach((r, i) => {
    const y = 20 + i * 22;
    g.appendChild(svg('text', { x: 4, y: y + 13, 'font-size': 12, text: r.record + ' ' + r.type }));
    const avoided = r.avoided || (tl.ended || t1);
    g.appendChild(svg('rect', { x: x(t0), y, width: Math.max(1, x(avoided) - x(t0)), height: 16, fill: '#cf222e' },
      svg('title', { text: 'answered from the lost targets until ' + when(r.avoided) })));
    if (r.avoided)
      g.appendChild(svg('rect', { x: x(r.avoided), y, width: Math.max(1, x(tl.ended || t1) - x(r.avoided)), height: 16, fill: '#1a7f37' }));
    if (tl.ended)
      g.appendChild(svg('rect', { x: x(tl.ended), y, width: Math.max(1, x(r.restored || t1) - x(tl.ended)), height: 16, fill: '#8c959f' }));
  });
  const axis = 30 + recs.length * 22;
  g.appendChild(svg('line', { x1: L, y1: axis - 8, x2: W - 20, y2: axis - 8, stroke: '#57606a' }));
  for (let k = 0; k <= 4; k++) {
    const t = t0 + (span * k) / 4;
    g.appendChild(svg('text', { x: x(t) - 10, y: axis + 8, 'font-size': 11, text: '+' + ((t - t0) * 1000).toFixed(0) + 'ms' }));
  }
  if (tl.all_avoiding)
    g.appendChild(svg('line', { x1: x(tl.all_avoiding), y1: 10, x2: x(tl.all_avoiding), y2: axis - 8, stroke: '#0969da', 'stroke-dasharray': '4 2' },
      svg('title', { text: 'all records avoid the targets (RTO ' + fmt(tl.rto) + ')' })));
  return g;
}
