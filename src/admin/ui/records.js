// records.js -- each policy record's current answer and region order (an
// explain of the record, as the DNS path would answer it), and for geo
// and nearest records the answer per sample location (explain with an ECS
// subnet per sample; the samples are the operator's, kept in this tab).

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
  const samples = el('input', { id: 'samples', size: 60,
    value: sessionStorage.getItem(SAMPLES) || '192.0.2.1, 198.51.100.1, 203.0.113.1, 2001:db8::1' });
  root.appendChild(el('h2', { text: 'Policy records' }));
  root.appendChild(el('form', { class: 'inline', onsubmit: (e) => {
    e.preventDefault();
    sessionStorage.setItem(SAMPLES, samples.value);
    update(ctx);
  } }, el('label', { for: 'samples', text: 'sample client locations (geo and nearest records):' }),
  samples, el('button', { type: 'submit', text: 'Apply' })));
  list = el('div', {}, el('p', { class: 'muted', text: 'Loading...' }));
  root.appendChild(list);
}

function sampleList() {
  return (sessionStorage.getItem(SAMPLES) || '192.0.2.1, 198.51.100.1, 203.0.113.1, 2001:db8::1')
    .split(/[\s,]+/).filter(Boolean).slice(0, 16);
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

async function row(rec) {
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
  const samples = [];
  for (const s of sampleList()) {
    const ecs = s.includes('/') ? s : s + (s.includes(':') ? '/128' : '/32');
    try {
      const x = await current(rec, ecs);
      const g = x.policy && x.policy.geo ? x.policy.geo : {};
      samples.push(el('tr', {}, el('td', { text: s }),
        el('td', { text: (g.match || '') + (g.key ? ' ' + g.key : '') }),
        el('td', { text: (g.region_order || []).join(', ') }),
        el('td', { text: (x.reply ? x.reply.answer : []).join('\n') })));
    } catch (e) {
      samples.push(el('tr', {}, el('td', { text: s }), el('td', { class: 'error', text: e.message })));
    }
  }
  return [tr, el('tr', {}, el('td', { colspan: 5 },
    table(['sample client', 'match', 'region order', 'answer'], samples)))];
}

export async function update(ctx) {
  if (busy) { again = true; return; }
  busy = true;
  try {
    do {
      again = false;
      const recs = ctx.status.records.slice(0, MAX);
      const rows = [];
      for (const r of recs) rows.push(...await row(r));
      const t = table(['record', 'policy', 'pool', 'answer now', 'region order'], rows);
      clear(list).appendChild(t);
      if (ctx.status.records.length > MAX)
        list.appendChild(el('p', { class: 'muted', text: 'only the first ' + MAX + ' records are shown' }));
    } while (again);
  } finally {
    busy = false;
  }
}
