// records.js -- each policy record's current answer and region order (an
// explain of the record, as the DNS path would answer it), and for geo
// and nearest records the answer per sample client (explain with an ECS
// subnet per sample). The samples come from the configuration: the
// networks of the geo maps' network: keys and a network of each location
// the geo database names first (GET /v1/status: geo.samples); the operator
// can type others, kept in this tab.

import { api } from './api.js';
import { badge, clear, el, table } from './dom.js';

const SAMPLES = 'gtmd-samples';
const MAX = 200;
let root = null;
let list = null;
let busy = false;
let again = false;

export function mount(ctx, r) {
  root = r;
  const samples = el('input', { id: 'samples', size: 80, placeholder: 'addresses or networks',
    value: sessionStorage.getItem(SAMPLES) || '' });
  root.appendChild(el('h2', { text: 'Policy records' }));
  root.appendChild(el('form', { class: 'inline', onsubmit: (e) => {
    e.preventDefault();
    if (samples.value.trim()) sessionStorage.setItem(SAMPLES, samples.value.trim());
    else sessionStorage.removeItem(SAMPLES);
    update(ctx);
  } }, el('label', { for: 'samples', text: 'sample clients (geo and nearest records):' }),
  samples, el('button', { type: 'submit', text: 'Apply' }),
  el('span', { class: 'muted', text: 'empty: the networks of the configuration and the geo database' })));
  list = el('div', {}, el('p', { class: 'muted', text: 'Loading...' }));
  root.appendChild(list);
}

// Where the database puts a sample: "DE-BE", "ZA", "EU", or coordinates.
function place(x) {
  if (x.subdivision || x.country || x.continent) return x.subdivision || x.country || x.continent;
  return x.latitude !== undefined ? x.latitude + ', ' + x.longitude : '';
}

// The configuration's samples: the geo maps' network keys, then one
// network per database location (GET /v1/status: geo.samples).
function configSamples(s) {
  const out = [];
  for (const r of s.records)
    for (const k of Object.keys(r.geo || {}))
      if (k.startsWith('network:')) out.push(k.slice(8));
  for (const x of (s.geo && s.geo.samples) || []) out.push(x.network);
  return [...new Set(out)];
}

// The operator's samples (kept in this tab), else the configuration's.
function sampleList(s) {
  const typed = sessionStorage.getItem(SAMPLES);
  return (typed ? typed.split(/[\s,]+/).filter(Boolean) : configSamples(s)).slice(0, 16);
}

function explainUrl(name, type, ecs) {
  const q = new URLSearchParams({ name, type });
  if (ecs) q.set('ecs', ecs);
  return '/v1/explain?' + q.toString();
}

// The record's answer: A first, AAAA when its pool has no A endpoint.
async function current(rec, ecs) {
  let x = await api('GET', explainUrl(rec.name, 'A', ecs));
  if (!x.policy || (x.reply && x.reply.answer.length === 0 && x.policy.endpoints.length === 0))
    x = await api('GET', explainUrl(rec.name, 'AAAA', ecs));
  return x;
}

function answerCell(x) {
  const p = x.policy;
  const lines = x.reply ? x.reply.answer : [];
  return el('td', { class: 'answer' },
    p ? badge(p.outcome === 'served' ? 'up' : 'down') : null, ' ', p ? p.outcome : 'no policy',
    lines.map((l) => el('div', { text: l })));
}

function orderCell(x) {
  const p = x.policy;
  if (!p) return el('td');
  return el('td', { class: 'order' }, p.regions.map((r) =>
    el('div', {}, (r.position + 1) + '. ' + r.region + ' ', badge(r.state), r.serving ? ' serving' : '',
      el('span', { class: 'muted', text: ' ' + r.why }))));
}

// What placed the sample: the geo key whose regions it gets, or why none;
// for a nearest record the closest region.
function matchText(g, policy) {
  if (policy === 'nearest') {
    const d = (g.distances || [])[0];
    if (g.match !== 'located' || !d || d.km === null) return 'no coordinates: configured order';
    return 'closest: ' + d.region + ' (' + Math.round(d.km) + ' km)';
  }
  if (g.match === 'unknown') return 'location unknown: ' + (g.key || 'default');
  if (g.match === 'default') return 'no key matched: default';
  return g.key || g.match || '';
}

async function sampleRows(rec, samples) {
  const rows = [];
  for (const s of samples) {
    const ecs = s.includes('/') ? s : s + (s.includes(':') ? '/128' : '/32');
    const who = el('td', { class: 'sample', text: s });
    try {
      const x = await current(rec, ecs);
      const g = x.policy && x.policy.geo ? x.policy.geo : {};
      rows.push(el('tr', { 'data-sample': s }, who,
        el('td', { class: 'where', text: g.location ? place(g.location) || 'no fields' : 'not in the database' }),
        el('td', { class: 'match', text: matchText(g, rec.policy) }),
        el('td', { text: (g.region_order || []).join(', ') }),
        el('td', { text: (x.reply ? x.reply.answer : []).join('\n') })));
    } catch (e) {
      rows.push(el('tr', { 'data-sample': s }, who, el('td', { colspan: 4, class: 'error', text: e.message })));
    }
  }
  return rows;
}

async function row(rec, samples) {
  const cells = [el('td', { class: 'name', text: rec.name }),
    el('td', { text: rec.policy + ' / ' + rec.select }), el('td', { text: rec.pool })];
  try {
    const x = await current(rec, null);
    cells.push(answerCell(x), orderCell(x));
  } catch (e) {
    cells.push(el('td', { class: 'error', text: e.message }), el('td'));
  }
  const tr = el('tr', { 'data-record': rec.name }, cells);
  if (rec.policy !== 'geo' && rec.policy !== 'nearest') return [tr];
  return [tr, el('tr', {}, el('td', { colspan: 5 },
    table(['sample client', 'located in', 'match', 'region order', 'answer'], await sampleRows(rec, samples),
      'no sample clients: type addresses or networks above')))];
}

export async function update(ctx) {
  if (busy) { again = true; return; }
  busy = true;
  try {
    do {
      again = false;
      const recs = ctx.status.records.slice(0, MAX);
      const samples = sampleList(ctx.status);
      const input = document.getElementById('samples');
      if (input && !sessionStorage.getItem(SAMPLES) && document.activeElement !== input)
        input.value = samples.join(', ');
      const rows = [];
      for (const r of recs) rows.push(...await row(r, samples));
      const t = table(['record', 'policy', 'pool', 'answer now', 'region order'], rows,
        'no policy records in the configuration');
      clear(list).appendChild(t);
      if (ctx.status.records.length > MAX)
        list.appendChild(el('p', { class: 'muted', text: 'only the first ' + MAX + ' records are shown' }));
    } while (again);
  } finally {
    busy = false;
  }
}
