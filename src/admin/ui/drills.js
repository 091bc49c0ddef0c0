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
    targets: el('input', { id: 'dr-targets', placeholder: 'region:NAME, az:NAME', size: 34 }),
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
    el('td', { text: d.mode }), el('td', { text: d.targets.join(', ') }), el('td', { class: 'reason', text: d.reason }),
    el('td', {}, d.state === 'active' ? since(d.started) : when(d.started)),
    el('td', {}, d.result ? badge(d.result) : null, d.result ? '' : 'running',
      d.end_reason ? el('div', { class: 'muted', text: d.end_reason }) : null),
    el('td', {}, el('button', { type: 'button', text: 'Timeline', onclick: () => draw(d.id) }),
      d.state === 'active' ? el('button', { type: 'button', text: 'Abort', disabled: dis, title: dis ? RO : null,
        onclick: () => abort(d.id) }) : null)));
}

// The configured regions and azs as the targets' example.
function placeholder(s) {
  const r = s.regions.map((x) => 'region:' + x.name);
  const a = s.regions.flatMap((x) => x.azs.map((z) => 'az:' + z.name));
  const ex = r.slice(0, 1).concat(a.slice(0, 1));
  f.targets.placeholder = ex.length ? 'e.g. ' + ex.join(', ') : 'no regions configured';
  f.targets.title = 'regions and azs of this configuration: ' + r.concat(a).join(', ');
}

export async function update(ctx) {
  placeholder(ctx.status);
  let x;
  try {
    x = await api('GET', '/v1/drills');
  } catch (e) {
    clear(list).appendChild(el('p', { class: 'error', text: e.message }));
    return;
  }
  const heads = ['id', 'name', 'mode', 'targets', 'reason', 'started', 'result', ''];
  clear(list).appendChild(el('div', {}, el('h2', { text: 'Running' }), table(heads, rows(x.active, !ctx.operate), 'no drill running'),
    el('h2', { text: 'History' }), table(heads, rows(x.history.slice(0, 20), true), 'no drill has ended yet')));
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
  if (tl && tl.series && tl.series.length) chart.appendChild(rates(tl));
  if (tl) chart.appendChild(answers(tl));
  if (tl && tl.rto_plus_ttl !== null && tl.rto_plus_ttl !== undefined) chart.appendChild(exposure(tl));
}

function fmt(s) { return s === null || s === undefined ? '-' : (s * 1000).toFixed(1) + ' ms'; }

// The timeline as two zoomed panels, each with its own axis in ms: the
// transition after the start (red until a record answered without the
// lost targets, then green) and the one after the end (grey until the
// record answered from them again, then blue).
function timeline(tl) {
  const recs = tl.records || [];
  const box = el('div', { class: 'timelines' });
  const atStart = recs.map((r) => r.avoided ? r.avoided - tl.started : null);
  box.appendChild(panel('after the start: answering without the targets', recs, atStart,
    tl.state === 'measuring', '#cf222e', '#1a7f37', tl.rto));
  if (tl.ended) {
    const atEnd = recs.map((r) => r.restored ? r.restored - tl.ended : null);
    box.appendChild(panel('after the end: answering from the targets again', recs, atEnd,
      tl.state === 'restoring', '#8c959f', '#0969da', tl.restore ? tl.restore.rto : null));
  }
  return box;
}

// One panel: per record a bar from 0 to its time (or to the panel's end
// while it is still waited for), then the "after" colour to the end.
function panel(title, recs, times, open, before, after, rto) {
  const known = times.filter((t) => t !== null);
  const span = Math.max(0.005, (known.length ? Math.max(...known) : 0) * 1.25, open ? 2 : 0);
  const W = 760; const L = 200; const R = 60; const top = 24; const H = top + 22 * recs.length + (rto !== null && rto !== undefined ? 44 : 28);
  const x = (t) => L + (Math.min(t, span) / span) * (W - L - R);
  const g = svg('svg', { class: 'timeline', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' },
    svg('title', { text: title }),
    svg('text', { x: 4, y: 15, 'font-size': 12, 'font-weight': 'bold', text: title + (rto !== null && rto !== undefined ? ' (RTO ' + fmt(rto) + ')' : '') }));
  recs.forEach((r, i) => {
    const y = top + i * 22;
    const t = times[i];
    g.appendChild(svg('text', { x: 4, y: y + 13, 'font-size': 12, text: r.record + ' ' + r.type }));
    g.appendChild(svg('rect', { x: L, y, width: Math.max(1, x(t === null ? span : t) - L), height: 16, fill: before },
      svg('title', { text: t === null ? 'not yet' : fmt(t) })));
    if (t !== null) {
      g.appendChild(svg('rect', { x: x(t), y, width: Math.max(1, x(span) - x(t)), height: 16, fill: after }));
      g.appendChild(svg('text', { x: x(span) + 4, y: y + 13, 'font-size': 11, text: fmt(t) }));
    }
  });
  const axis = top + recs.length * 22 + 4;
  if (rto !== null && rto !== undefined) {
    // The RTO mark: when the last record had switched.
    g.appendChild(svg('line', { class: 'rto-mark', x1: x(rto), y1: top - 4, x2: x(rto), y2: axis, stroke: '#1f2328',
      'stroke-dasharray': '4 3' }));
    g.appendChild(svg('text', { class: 'rto-label', x: Math.max(L, Math.min(x(rto) - 4, W - R - 60)), y: top + recs.length * 22 + 36, 'font-size': 11,
      text: '\u25b2 RTO ' + fmt(rto) }));
  }
  g.appendChild(svg('line', { x1: L, y1: axis, x2: x(span), y2: axis, stroke: '#57606a' }));
  for (let k = 0; k <= 4; k++) {
    const t = (span * k) / 4;
    g.appendChild(svg('text', { x: x(t) - 12, y: axis + 14, 'font-size': 11, text: fmt(t) }));
  }
  return g;
}

// Per affected record, the answers counted since the start (of all
// clients, or of the canary clients for a scoped drill): those served
// from a lost target (red, 0 expected) and the others (green), and
// gtmd's own queries with those answered from a lost target.
function answers(tl) {
  const recs = tl.records || [];
  const most = Math.max(1, ...recs.map((r) => r.answers), ...recs.map((r) => r.lost_answers));
  const W = 760; const L = 200; const R = 250; const top = 24; const row = 22; const H = top + row * recs.length + 8;
  const x = (n) => L + (n / most) * (W - L - R);
  const who = tl.canary ? 'canary clients' : 'all clients';
  const g = svg('svg', { class: 'timeline answers', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' },
    svg('title', { text: 'answers and lost answers per record' }),
    svg('text', { x: 4, y: 15, 'font-size': 12, 'font-weight': 'bold',
      text: 'answers since the start (' + who + '): lost ' + tl.lost_answers + ' (0 expected), own queries ' +
        tl.self_queries + ', ' + tl.self_lost + ' from a lost target' }));
  recs.forEach((r, i) => {
    const y = top + i * row;
    const kept = Math.max(0, r.answers - r.lost_answers);
    g.appendChild(svg('text', { x: 4, y: y + 13, 'font-size': 12, text: r.record + ' ' + r.type }));
    g.appendChild(svg('rect', { class: 'bar kept', x: L, y, width: Math.max(1, x(kept) - L), height: 16, fill: '#1a7f37' },
      svg('title', { text: kept + ' answers without the lost targets (' + who + ')' })));
    if (r.lost_answers > 0)
      g.appendChild(svg('rect', { class: 'bar lost', x: x(kept), y, width: Math.max(2, x(r.lost_answers) - L), height: 16,
        fill: '#cf222e' }, svg('title', { text: r.lost_answers + ' answers from a lost target' })));
    g.appendChild(svg('text', { class: 'count', x: W - R + 6, y: y + 13, 'font-size': 11,
      text: r.answers + ' answer' + (r.answers === 1 ? '' : 's') + ', ' + r.lost_answers + ' lost; own queries ' + r.self_queries +
        ' (' + r.self_lost + ' lost)' }));
  });
  return g;
}

// What users see at worst: the RTO, then resolvers' caches for the TTL.
function exposure(tl) {
  const W = 760; const L = 200; const R = 60; const H = 58;
  const total = Math.max(tl.rto_plus_ttl, 0.001);
  const x = (t) => L + (t / total) * (W - L - R);
  const g = svg('svg', { class: 'timeline exposure', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' },
    svg('title', { text: 'RTO and RTO + TTL' }),
    svg('text', { x: 4, y: 15, 'font-size': 12, 'font-weight': 'bold', text: 'what users see at worst' }),
    svg('text', { x: 4, y: 37, 'font-size': 12, text: 'RTO, then TTL ' + tl.ttl + ' s' }),
    svg('rect', { class: 'bar rto', x: L, y: 24, width: Math.max(2, x(tl.rto) - L), height: 18, fill: '#cf222e' },
      svg('title', { text: 'RTO ' + fmt(tl.rto) + ': gtmd answers without the targets' })),
    svg('rect', { class: 'bar ttl', x: x(tl.rto), y: 24, width: Math.max(1, x(total) - x(tl.rto)), height: 18, fill: '#d4a72c' },
      svg('title', { text: 'TTL ' + tl.ttl + ' s: resolvers may still hand out the old answer' })),
    svg('text', { class: 'rto-label', x: L, y: 55, 'font-size': 11, text: 'RTO ' + fmt(tl.rto) }),
    svg('text', { class: 'rto-ttl-label', x: W - R - 120, y: 55, 'font-size': 11,
      text: 'RTO + TTL ' + (tl.rto_plus_ttl).toFixed(3) + ' s' }));
  return g;
}

// Answers per second of the affected records over the drill, from the
// counters' series (report.timeline.series: cumulative [time, answers,
// lost] at each sample): one bar per interval between two samples, its
// lost part in red, with the RTO and the end marked.
function rates(tl) {
  const pts = [[tl.started, 0, 0]].concat(tl.series);
  const last = pts[pts.length - 1][0];
  const stop = Math.max(tl.ended || last, last, tl.started + 0.001);
  const span = stop - tl.started;
  const iv = [];
  for (let i = 1; i < pts.length; i++) {
    const dt = pts[i][0] - pts[i - 1][0];
    if (dt <= 0) continue;
    iv.push({ from: pts[i - 1][0], to: pts[i][0], answers: pts[i][1] - pts[i - 1][1], lost: pts[i][2] - pts[i - 1][2] });
  }
  const most = Math.max(1e-9, ...iv.map((v) => v.answers / (v.to - v.from)));
  const W = 760; const L = 60; const R = 36; const top = 24; const ph = 110; const H = top + ph + 46;
  const x = (t) => L + ((t - tl.started) / span) * (W - L - R);
  const y = (rate) => top + ph - (rate / most) * ph;
  const who = tl.canary ? 'canary clients' : 'all clients';
  const g = svg('svg', { class: 'timeline rates', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img',
    'data-points': tl.series.length },
    svg('title', { text: 'answers per second over the drill' }),
    svg('text', { x: 4, y: 15, 'font-size': 12, 'font-weight': 'bold',
      text: 'answers per second of the affected records (' + who + '), lost in red' }));
  for (const v of iv) {
    if (v.answers <= 0 && v.lost <= 0) continue;
    const dt = v.to - v.from;
    const x1 = x(v.from); const w = Math.max(1, x(v.to) - x1);
    const tip = (v.from - tl.started).toFixed(3) + ' s to ' + (v.to - tl.started).toFixed(3) + ' s after the start: ' +
      v.answers + ' answer' + (v.answers === 1 ? '' : 's') + ' (' + (v.answers / dt).toFixed(1) + '/s), ' + v.lost + ' lost';
    g.appendChild(svg('rect', { class: 'rate', x: x1, y: y(v.answers / dt), width: w, height: top + ph - y(v.answers / dt),
      fill: '#1a7f37' }, svg('title', { text: tip })));
    if (v.lost > 0)
      g.appendChild(svg('rect', { class: 'rate lost', x: x1, y: y(v.lost / dt), width: w, height: top + ph - y(v.lost / dt),
        fill: '#cf222e' }, svg('title', { text: tip })));
  }
  const base = top + ph;
  g.appendChild(svg('line', { x1: L, y1: base, x2: W - R, y2: base, stroke: '#57606a' }));
  g.appendChild(svg('line', { x1: L, y1: top, x2: L, y2: base, stroke: '#57606a' }));
  g.appendChild(svg('text', { x: L - 4, y: top + 9, 'font-size': 11, 'text-anchor': 'end', text: most.toFixed(most < 10 ? 1 : 0) + '/s' }));
  g.appendChild(svg('text', { x: L - 4, y: base, 'font-size': 11, 'text-anchor': 'end', text: '0/s' }));
  for (let k = 0; k <= 4; k++) {
    const t = tl.started + (span * k) / 4;
    g.appendChild(svg('text', { x: x(t), y: base + 14, 'font-size': 11, 'text-anchor': 'middle',
      text: '+' + (t - tl.started).toFixed(span < 10 ? 2 : 0) + ' s' }));
  }
  const mark = (t, label, cls) => {
    g.appendChild(svg('line', { class: cls, x1: x(t), y1: top, x2: x(t), y2: base, stroke: '#1f2328', 'stroke-dasharray': '4 3' }));
    g.appendChild(svg('text', { class: cls + '-label', x: Math.min(x(t), W - R - 80), y: base + 30, 'font-size': 11, text: label }));
  };
  if (tl.rto !== null && tl.rto !== undefined) mark(tl.started + tl.rto, '\u25b2 RTO ' + fmt(tl.rto), 'rate-rto');
  if (tl.ended) mark(tl.ended, '\u25b2 end', 'rate-end');
  return g;
}
