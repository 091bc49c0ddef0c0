// dom.js -- building DOM nodes safely. Every string becomes a text node
// (textContent), never markup: names from the configuration or the state
// (an endpoint named "<img src=x onerror=...>") are shown as text.

export function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = String(v);
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k in n && typeof v !== 'string') n[k] = v;
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  add(n, children);
  return n;
}

function add(n, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) add(n, c);
    else if (c instanceof Node) n.appendChild(c);
    else n.appendChild(document.createTextNode(String(c)));
  }
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const n = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') n.textContent = String(v);
    else n.setAttribute(k, String(v));
  }
  add(n, children);
  return n;
}

export function badge(state) {
  const s = state === null || state === undefined ? '-' : String(state);
  return el('span', { class: 'badge ' + s, text: s });
}

// "3m 12s" since a Unix time (seconds).
export function ago(ts) {
  if (!ts) return '';
  let s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return d + 'd ' + h + 'h';
  if (h) return h + 'h ' + m + 'm';
  if (m) return m + 'm ' + s + 's';
  return s + 's';
}

export function when(ts) {
  return ts ? new Date(ts * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
}

// A span that shows how long ago ts was and keeps itself current (app.js
// refreshes every [data-since] once a second).
export function since(ts) {
  return el('span', { class: 'since', 'data-since': ts || '', text: ts ? ago(ts) : '' });
}

export function clear(n) {
  while (n.firstChild) n.removeChild(n.firstChild);
  return n;
}

// A table; with no rows, one row that says so (empty: what to say) rather
// than headers alone.
export function table(heads, rows, empty) {
  const body = rows.length ? rows
    : el('tr', { class: 'empty' }, el('td', { colspan: heads.length, class: 'muted', text: empty || 'nothing yet' }));
  return el('table', {}, el('thead', {}, el('tr', {}, heads.map((h) => el('th', { text: h })))),
    el('tbody', {}, body));
}
