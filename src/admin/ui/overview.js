// overview.js -- regions -> azs -> endpoints, every state layer (probe,
// fleet, override, drill, and the effective state policies use) with how
// long it has been so. Rebuilt from each new status.

import { badge, clear, el, since, table, when } from './dom.js';
import * as health from './health.js';

let root = null;

export function mount(ctx, r) {
  root = r;
  root.appendChild(el('p', { class: 'muted', text: 'Loading the status...' }));
}

export function update(ctx) {
  const s = ctx.status;
  clear(root);
  const srv = s.server;
  root.appendChild(el('p', { class: 'muted', id: 'summary' },
    'gtmd ' + srv.version + ', configuration generation ' + srv.config_generation +
    ', up ', since(Date.now() / 1000 - srv.uptime_s), ', ' + srv.active_overrides +
    ' override(s), ' + srv.active_drills + ' drill(s) running',
    s.fleet ? ', fleet node ' + s.fleet.node + ' (' + s.fleet.connection + ')' : ''));
  root.appendChild(health.chart(s, root.clientWidth - 2));
  for (const r of s.regions) root.appendChild(region(r));
}

const SEP = ' \u00b7 ';

// The region's or az's own layers in words: "No override", "Override:
// forced down (ovr-1 "reason", for 3m 2s, expires ...)", "No drill",
// "Drill: down (drl-1 live)", "Drill running: drl-2 (shadow), ...".
function layerState(st) {
  const o = st.override_detail;
  const override = st.override
    ? el('span', { class: 'layer override' }, 'Override: forced ', badge(st.override),
      o ? [el('span', { class: 'muted', text: ' ' + o.id + ' "' + o.reason + '" for ' }), since(o.created),
        el('span', { class: 'muted', text: o.expires ? ', expires ' + when(o.expires) : ', never expires' })] : null)
    : el('span', { class: 'layer override', text: 'No override' });
  const ds = (st.drills || []).map((d) => d.id + ' (' + d.mode + ')').join(', ');
  let drill;
  if (st.drill) drill = el('span', { class: 'layer drill' }, 'Drill: ', badge(st.drill), ' ' + ds);
  else if (ds) drill = el('span', { class: 'layer drill', text: 'Drill running: ' + ds + ' (answers unchanged)' });
  else drill = el('span', { class: 'layer drill', text: 'No drill' });
  return [override, SEP, drill];
}

// "pool web up: 1 of 1 endpoints healthy (needs 1)" per pool.
function pools(p) {
  return Object.entries(p || {}).map(([name, v]) =>
    el('span', { class: 'pool' }, SEP + 'pool ' + name + ' ', badge(v.state),
      ': ' + v.healthy + ' of ' + v.total + ' endpoint' + (v.total === 1 ? '' : 's') +
      ' healthy (needs ' + v.min_healthy + ')'));
}

function region(r) {
  const box = el('div', { class: 'region', 'data-region': r.name });
  box.appendChild(el('h3', {}, 'region ' + r.name));
  box.appendChild(el('div', { class: 'layers' }, layerState(r.state), pools(r.pools)));
  if (r.endpoints.length) box.appendChild(endpoints(r.endpoints));
  for (const az of r.azs) {
    const a = el('div', { class: 'az', 'data-az': az.name });
    a.appendChild(el('h3', {}, 'az ' + az.name));
    a.appendChild(el('div', { class: 'layers' }, layerState(az.state), pools(az.pools)));
    a.appendChild(endpoints(az.endpoints));
    box.appendChild(a);
  }
  return box;
}

// A layer's state, or "none" when the layer does not decide.
function layer(v) {
  return v ? badge(v) : el('span', { class: 'muted', text: 'none' });
}

function endpoints(list) {
  const rows = list.map((e) => {
    const st = e.state;
    const forced = st.forced_by;
    return el('tr', { 'data-endpoint': e.pool + '/' + e.name, 'data-effective': st.effective },
      el('td', { class: 'name', text: e.name }),
      el('td', { text: e.pool }),
      el('td', { text: e.answer }),
      el('td', { class: 'effective' }, badge(st.effective)),
      el('td', { class: 'probe' }, badge(st.probe), ' ', e.checked ? since(e.since) : el('span', { class: 'muted', text: 'no check' })),
      el('td', { class: 'fleet' }, layer(st.fleet),
        e.fleet && e.fleet.explain ? el('div', { class: 'muted', text: e.fleet.explain }) : null),
      el('td', { class: 'override' }, layer(st.override),
        forced ? el('div', { class: 'muted' }, forced.id + ' ' + forced.target + ' "' + forced.reason + '" for ', since(forced.created)) : null),
      el('td', { class: 'drill' }, layer(st.drill),
        (st.drills || []).map((d) => el('div', { class: 'muted', text: d.id + ' (' + d.mode + ')' }))),
      el('td', { class: 'result', text: e.checked ? e.last_result + ' (' + Number(e.last_latency_ms).toFixed(1) + ' ms)' : '' }));
  });
  return table(['endpoint', 'pool', 'answer', 'effective', 'probe, since', 'fleet', 'override', 'drill', 'last probe'], rows,
    'no endpoints');
}
