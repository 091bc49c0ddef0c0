// health.js -- the health timeline: for every region and pool, one band
// over the last hour, coloured by the pool's state as its endpoints' probe
// verdicts made it (up: at least min_healthy endpoints up), with the time
// and the reason of every change in the band's hover text.
//
// The past comes from GET /v1/history?type=health (the events gtmd kept),
// read once at sign-in; app.js then follows the event stream from the last
// id of that history and adds each new health event here, so the chart
// grows without a reload and misses nothing in between.

import { api } from './api.js';
import { ago, el, svg, when } from './dom.js';

export const WINDOW = 3600; // seconds drawn

const store = { events: [], ids: new Set(), since: 0, complete: true, keptFrom: null };

// Reads the history; returns the last event id it covers (the stream's
// starting point).
export async function load() {
  const since = Math.floor(Date.now() / 1000 - WINDOW);
  const h = await api('GET', '/v1/history?type=health&since=' + since);
  store.events = [];
  store.ids = new Set();
  for (const e of h.events) add(e);
  store.since = h.since;
  store.complete = h.complete;
  store.keptFrom = h.kept_from;
  return h.last_id;
}

// One health event (from the history or the stream; duplicates ignored).
export function add(e) {
  if (!e || e.type !== 'health' || store.ids.has(e.id)) return;
  store.ids.add(e.id);
  store.events.push(e);
  if (store.events.length > 1 && store.events[store.events.length - 2].id > e.id)
    store.events.sort((a, b) => a.id - b.id);
  // A tab left open for days: forget what is older than the window (the
  // state at its start is the 'from' of the first change kept).
  if (store.events.length > 4096) {
    const old = Date.now() / 1000 - WINDOW - 60;
    store.events = store.events.filter((x) => x.time >= old);
    store.ids = new Set(store.events.map((x) => x.id));
  }
}

function endpointName(key) {
  return key.replace(/^endpoint:[^/]*\//, '');
}

// The pool's state from its endpoints' states.
function poolState(states, min) {
  const v = Object.values(states);
  const up = v.filter((s) => s === 'up').length;
  if (up >= min) return 'up';
  return v.some((s) => s === 'down') ? 'down' : 'unknown';
}

// The segments [{from, to, state, cause}] of one pool of one region since
// t0: each endpoint's state at t0 is the 'from' of its first kept change
// after t0, else its probe verdict now.
function segments(eps, pool, min, t0, now) {
  const keys = new Map(eps.map((e) => ['endpoint:' + pool + '/' + e.name, e]));
  const states = {};
  for (const [k, e] of keys) {
    const first = store.events.find((ev) => ev.key === k && ev.time >= t0);
    states[k] = first ? first.from : e.state.probe;
  }
  const segs = [{ from: t0, to: now, state: poolState(states, min), cause: null }];
  for (const ev of store.events) {
    if (!keys.has(ev.key) || ev.time < t0 || ev.time > now) continue;
    states[ev.key] = ev.to;
    const st = poolState(states, min);
    const last = segs[segs.length - 1];
    if (st === last.state) continue;
    last.to = ev.time;
    segs.push({ from: ev.time, to: now, state: st, cause: ev });
  }
  return segs;
}

// Axis ticks: a round step giving at most 8 of them over span seconds.
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800];
function tickStep(span) {
  return STEPS.find((st) => span / st <= 8) || 3600;
}

function clock(t, step) {
  return new Date(t * 1000).toISOString().slice(11, step < 60 ? 19 : 16) + 'Z';
}

function hover(region, pool, s, now) {
  const c = s.cause;
  const why = c ? endpointName(c.key) + ' ' + c.from + ' \u2192 ' + c.to + ': ' + c.why +
    (c.detail ? ' (' + c.detail + ')' : '') : 'at the start of the window';
  return region + ' / ' + pool + ' ' + s.state + ' from ' + when(s.from) + ' to ' +
    (s.to >= now - 0.5 ? 'now' : when(s.to)) + ' (' + ago(now - (s.to - s.from)) + '): ' + why;
}

// The chart for status s, width px wide.
export function chart(s, width) {
  const now = Date.now() / 1000;
  // The last hour, or since gtmd started when that is shorter; before
  // the oldest kept event when some were dropped, nothing is known.
  const start = Math.max(now - WINDOW, now - s.server.uptime_s - 1);
  const t0 = Math.max(start, store.complete ? 0 : store.keptFrom || 0);
  const bands = [];
  for (const r of s.regions) {
    const eps = r.endpoints.concat(...r.azs.map((z) => z.endpoints));
    for (const [pool, p] of Object.entries(r.pools || {}))
      bands.push({ region: r.name, pool, now: p.state,
        segs: segments(eps.filter((e) => e.pool === pool), pool, p.min_healthy, t0, now) });
  }
  const W = Math.max(600, Math.floor(width)); const L = 140; const R = 90; const top = 22; const row = 24;
  const H = top + row * bands.length + 42;
  const span = Math.max(1, now - start);
  const x = (t) => L + ((t - start) / span) * (W - L - R);
  const what = now - start < WINDOW - 1 ? 'since gtmd started' : 'the last hour';
  const g = svg('svg', { class: 'health', id: 'health-chart', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' },
    svg('title', { text: 'health per region and pool, ' + what + ' (probe verdicts)' }),
    svg('text', { x: 4, y: 15, class: 'head', text: 'Health, ' + what + ' (probe verdicts; hover a band for when and why)' }));
  if (t0 > start)
    g.appendChild(svg('rect', { x: L, y: top, width: x(t0) - L, height: row * bands.length, class: 'seg notkept' },
      svg('title', { text: 'events before ' + when(t0) + ' are no longer kept' })));
  bands.forEach((b, i) => {
    const y = top + i * row;
    const band = svg('g', { class: 'band', 'data-region': b.region, 'data-pool': b.pool, 'data-now': b.now });
    band.appendChild(svg('text', { x: 4, y: y + 15, class: 'label', text: b.region + ' / ' + b.pool }));
    for (const sg of b.segs) {
      const x1 = x(sg.from);
      band.appendChild(svg('rect', { x: x1, y: y + 2, width: Math.max(1.5, x(sg.to) - x1), height: row - 6,
        class: 'seg ' + sg.state, 'data-state': sg.state }, svg('title', { text: hover(b.region, b.pool, sg, now) })));
    }
    band.appendChild(svg('text', { x: W - R + 6, y: y + 15, class: 'now ' + b.now, text: 'now ' + b.now }));
    g.appendChild(band);
  });
  const axis = top + row * bands.length + 4;
  g.appendChild(svg('line', { x1: L, y1: axis, x2: W - R, y2: axis, class: 'axis' }));
  const step = tickStep(span);
  for (let t = Math.ceil(start / step) * step; t <= now; t += step) {
    g.appendChild(svg('line', { x1: x(t), y1: axis, x2: x(t), y2: axis + 4, class: 'axis' }));
    g.appendChild(svg('text', { x: x(t), y: axis + 16, class: 'tick', 'text-anchor': 'middle', text: clock(t, step) }));
  }
  g.appendChild(legend(L, axis + 22));
  return el('div', { class: 'health-box' }, g);
}

function legend(x0, y) {
  const g = svg('g', { class: 'legend' });
  [['up', 'up'], ['down', 'down'], ['unknown', 'not probed yet']].forEach(([st, label], i) => {
    const x = x0 + i * 70;
    g.appendChild(svg('rect', { x, y, width: 10, height: 10, class: 'seg ' + st }));
    g.appendChild(svg('text', { x: x + 14, y: y + 9, class: 'tick', text: label }));
  });
  return g;
}
