// audit.js -- GET /v1/audit: the newest mutating calls.

import { api } from './api.js';
import { clear, el, table, when } from './dom.js';

let list = null;

export function mount(ctx, root) {
  root.appendChild(el('h2', { text: 'Audit (the newest 100 mutating calls and drill ends)' }));
  list = el('div');
  root.appendChild(list);
}

// A large body is kept by its excerpt, size and digest, not whole.
function shownRequest(x) {
  if (x.request_excerpt !== undefined) {
    return x.request_excerpt + ' \u2026 (' + x.request_bytes + ' bytes, sha256 ' +
      x.request_sha256 + ')';
  }
  return JSON.stringify(x.request === undefined ? x : x.request);
}

export async function update() {
  let a;
  try {
    a = await api('GET', '/v1/audit?limit=100');
  } catch (e) {
    clear(list).appendChild(el('p', { class: 'error', text: e.message }));
    return;
  }
  const t = table(['time', 'token', 'client', 'call', 'status', 'request / result'],
    a.entries.map((x) => el('tr', {}, el('td', { class: 'time', text: when(x.time) }), el('td', { text: x.token || '' }),
      el('td', { text: x.client || '' }),
      el('td', { class: 'call', text: x.method ? x.method + ' ' + x.path : (x.event || '') }),
      el('td', { text: x.status === undefined ? '' : x.status }),
      el('td', { class: 'request' }, el('code', { text: shownRequest(x) }),
        x.result ? el('div', { class: 'muted', text: JSON.stringify(x.result) }) : null))),
    'nothing audited yet');
  t.classList.add('audit');
  clear(list).appendChild(t);
}
