// overview.js -- regions -> azs -> endpoints, every state layer (probe,
// fleet, override, drill, and the effective state policies use) with how
// long it has been so. Rebuilt from each new status.

import { badge, clear, el, since, table, when } from './dom.js';

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
  for (const r of s.regions) root.appendChild(region(r));
}

function layerState(st) {
  // The region's or az's own layers: override and drill.
  const o = st.override_detail;
  return [
    el('span', {}, ' override ', badge(st.override),
      o ? [' ', el('span', { class: 'muted', text: o.id + ' "' + o.reason + '" for ' }),
        since(o.created), o.expires ? el('span', { class: 'muted', text: ', expires ' + when(o.expires) }) : null] : null),
    el('span', {}, ' drill ', badge(st.drill),
      (st.drills || []).map((d) => [' ', el('span', { class: 'muted', text: d.id + ' (' + d.mode + ')' })])),
  ];
}

function pools(p) {
  return Object.entries(p || {}).map(([name, v]) =>
    el('span', { class: 'pool' }, ' pool ' + name + ' ', badge(v.state),
      ' ' + v.healthy + '/' + v.total + ' healthy (min ' + v.min_healthy + ')'));
}

function region(r) {
  const box = el('div', { class: 'region', 'data-region': r.name });
  box.appendChild(el('h3', {}, 'region ' + r.name));
  box.appendChild(el('div', {}, layerState(r.state), pools(r.pools)));
  if (r.endpoints.length) box.appendChild(endpoints(r.endpoints));
  for (const az of r.azs) {
    const a = el('div', { class: 'az', 'data-az': az.name });
    a.appendChild(el('h3', {}, 'az ' + az.name));
    a.appendChild(el('div', {}, layerState(az.state), pools(az.pools)));
    a.appendChild(endpoints(az.endpoints));
    box.appendChild(a);
  }
  return box;
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
      el('td', { class: 'fleet' }, badge(st.fleet === undefined ? null : st.fleet),
        e.fleet && e.fleet.explain ? el('div', { class: 'muted', text: e.fleet.explain }) : null),
      el('td', { class: 'override' }, badge(st.override),
        forced ? el('div', { class: 'muted' }, forced.id + ' ' + forced.target + ' "' + forced.reason + '" for ', since(forced.created)) : null),
      el('td', { class: 'drill' }, badge(st.drill),
        (st.drills || []).map((d) => el('div', { class: 'muted', text: d.id + ' (' + d.mode + ')' }))),
      el('td', { class: 'result', text: e.checked ? e.last_result + ' (' + Number(e.last_latency_ms).toFixed(1) + ' ms)' : '' }));
  });
  return table(['endpoint', 'pool', 'answer', 'effective', 'probe, since', 'fleet', 'override', 'drill', 'last probe'], rows);
}
