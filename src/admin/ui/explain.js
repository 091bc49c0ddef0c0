// explain.js -- GET /v1/explain: name, type, client or ECS -> the decision.

import { api } from './api.js';
import { badge, clear, el, table } from './dom.js';

let out = null;

export function mount(ctx, root) {
  const f = {
    name: el('input', { id: 'ex-name', placeholder: 'name', required: true, size: 30 }),
    type: el('input', { id: 'ex-type', value: 'A', size: 6 }),
    client: el('input', { id: 'ex-client', placeholder: 'client (127.0.0.1)', size: 18 }),
    ecs: el('input', { id: 'ex-ecs', placeholder: 'ECS ADDRESS/PREFIX', size: 20 }),
  };
  root.appendChild(el('h2', { text: 'Explain' }));
  root.appendChild(el('form', { class: 'inline', id: 'explain-form', onsubmit: (e) => {
    e.preventDefault();
    run(f);
  } }, f.name, f.type, f.client, f.ecs, el('button', { type: 'submit', text: 'Explain' })));
  out = el('div');
  root.appendChild(out);
}

export function update() {}

async function run(f) {
  const q = new URLSearchParams({ name: f.name.value.trim(), type: f.type.value.trim() || 'A' });
  if (f.client.value.trim()) q.set('client', f.client.value.trim());
  if (f.ecs.value.trim()) q.set('ecs', f.ecs.value.trim());
  clear(out);
  let x;
  try {
    x = await api('GET', '/v1/explain?' + q.toString());
  } catch (e) {
    out.appendChild(el('p', { class: 'error', text: e.message }));
    return;
  }
  out.appendChild(el('p', {}, 'zone ' + (x.zone || 'none') + ', generation ' + x.config_generation +
    ', rcode ' + (x.reply ? x.reply.rcode : '-')));
  const p = x.policy;
  if (p) {
    out.appendChild(el('p', {}, 'record ' + p.record.name + ' (' + p.record.policy + ', pool ' +
      p.record.pool + '): ' + p.region_order_source + '; outcome ', badge(p.outcome === 'served' ? 'up' : 'down'),
      ' ' + p.outcome + ', ttl ' + p.ttl));
    out.appendChild(table(['#', 'region', 'state', 'serving', 'why'], p.regions.map((r) =>
      el('tr', {}, el('td', { text: r.position }), el('td', { text: r.region }), el('td', {}, badge(r.state)),
        el('td', { text: r.serving ? 'yes' : '' }), el('td', { text: r.why })))));
    out.appendChild(el('p', { text: 'selection ' + p.selection.select + ' of ' + p.selection.candidates +
      ' candidates: ' + p.selection.chosen.join(', ') }));
  } else {
    out.appendChild(el('p', { class: 'muted', text: 'no policy record answered (static zone data)' }));
  }
  if (x.reply) {
    out.appendChild(el('h3', { text: 'reply' }));
    out.appendChild(el('pre', { class: 'reply', text: ['answer', 'authority', 'additional']
      .map((s) => ';; ' + s + '\n' + x.reply[s].join('\n')).join('\n') }));
  }
  out.appendChild(el('details', {}, el('summary', { text: 'the whole trace (JSON)' }),
    el('pre', { text: JSON.stringify(x, null, 1) })));
}
