// overrides.js -- the overrides: list, delete, and create with a reason
// and an expiry. "Preview" runs the dry run and lists the records whose
// answers would change; only then can the operator confirm. A refusal by
// the safety rule (409) is shown as gtmd words it, with the records, and
// can be forced on purpose.

import { api, ApiError } from './api.js';
import { clear, el, since, table, when } from './dom.js';

const RO = 'needs the operate token';
let f = null;
let list = null;
let result = null;
let previewed = null; // the body the preview was for

export function mount(ctx, root) {
  const dis = !ctx.operate;
  f = {
    target: el('select', { id: 'ov-target' }),
    state: el('select', { id: 'ov-state' }, el('option', { value: 'down', text: 'down' }),
      el('option', { value: 'up', text: 'up' })),
    reason: el('input', { id: 'ov-reason', placeholder: 'reason (ticket, why)', size: 30 }),
    expires: el('input', { id: 'ov-expires', type: 'number', min: '0', step: 'any', value: '60', size: 6 }),
    preview: el('button', { id: 'ov-preview', type: 'submit', text: 'Preview', disabled: dis, title: dis ? RO : null }),
    confirm: el('button', { id: 'ov-confirm', type: 'button', text: 'Confirm', disabled: true, title: dis ? RO : null }),
  };
  f.confirm.addEventListener('click', () => create(false));
  for (const k of ['target', 'state', 'reason', 'expires'])
    f[k].addEventListener('input', () => { previewed = null; f.confirm.disabled = true; });
  root.appendChild(el('h2', { text: 'Create an override' }));
  root.appendChild(el('form', { class: 'inline', id: 'override-form', onsubmit: (e) => { e.preventDefault(); preview(); } },
    f.target, f.state, f.reason, el('label', { for: 'ov-expires', text: 'expires in (minutes, 0 = never)' }), f.expires,
    f.preview, f.confirm));
  if (dis) root.appendChild(el('p', { class: 'note', text: 'Read-only: creating and deleting overrides ' + RO + '.' }));
  result = el('div', { id: 'ov-result' });
  root.appendChild(result);
  root.appendChild(el('h2', { text: 'Overrides in force (newest first)' }));
  list = el('div', { id: 'ov-list' });
  root.appendChild(list);
}

function targets(s) {
  const t = [];
  for (const r of s.regions) {
    t.push('region:' + r.name);
    for (const az of r.azs) t.push('az:' + az.name);
  }
  for (const r of s.regions) {
    for (const e of r.endpoints) t.push('endpoint:' + e.pool + '/' + e.name);
    for (const az of r.azs) for (const e of az.endpoints) t.push('endpoint:' + e.pool + '/' + e.name);
  }
  return t;
}

function body(extra) {
  const b = { target: f.target.value, state: f.state.value, reason: f.reason.value.trim() };
  const m = Number(f.expires.value);
  if (m > 0) b.expires_in = m * 60;
  return Object.assign(b, extra);
}

function changes(list2) {
  if (!list2.length) return el('p', { class: 'muted', text: 'no record would change its answer' });
  return table(['record', 'type', 'before', 'after', 'clients'], list2.map((c) => el('tr', {},
    el('td', { text: c.record }), el('td', { text: c.type }),
    el('td', { text: c.before.outcome + ' ' + (c.before.serving_region || '-') + ': ' + c.before.answers.join(' ') }),
    el('td', { text: c.after.outcome + ' ' + (c.after.serving_region || '-') + ': ' + c.after.answers.join(' ') }),
    el('td', { text: (c.clients || []).join(', ') }))));
}

function showError(e, retry) {
  const box = el('div', { class: 'error-box' });
  box.appendChild(el('p', { class: 'error', id: 'ov-error', text: (e.status ? e.status + ' ' + e.code + ': ' : '') + e.message }));
  const recs = e.body && e.body.error && e.body.error.records;
  if (recs && recs.length)
    box.appendChild(table(['record left unserved', 'type'], recs.map((r) => el('tr', {}, el('td', { text: r.record }), el('td', { text: r.type })))));
  if (e.status === 409 && e.code === 'unsafe' && retry)
    box.appendChild(el('button', { type: 'button', id: 'ov-force', text: 'Apply anyway (force)', onclick: retry }));
  clear(result).appendChild(box);
}

async function preview() {
  const b = body({ dry_run: true });
  if (!b.reason) { showError(new Error('a reason is needed')); return; }
  try {
    const x = await api('POST', '/v1/overrides', b);
    previewed = JSON.stringify(body({}));
    clear(result).appendChild(el('div', { class: 'changes', id: 'ov-changes' },
      el('h3', { text: 'Records whose answers would change' }), changes(x.changes),
      x.would_leave_unserved.length ? el('p', { class: 'error', text: 'would leave unserved: ' +
        x.would_leave_unserved.map((r) => r.record + ' ' + r.type).join(', ') }) : null));
    f.confirm.disabled = false;
  } catch (e) {
    showError(e);
  }
}

async function create(force) {
  const b = body(force ? { force: true } : {});
  if (!force && JSON.stringify(b) !== previewed) return;
  try {
    const x = await api('POST', '/v1/overrides', b);
    clear(result).appendChild(el('div', { class: 'changes', id: 'ov-created' },
      el('p', { text: 'created ' + x.id + ' (' + x.target + ' ' + x.state + ')' }), changes(x.changes)));
    f.confirm.disabled = true;
    previewed = null;
  } catch (e) {
    showError(e, () => create(true));
  }
}

async function remove(id, force) {
  try {
    await api('DELETE', '/v1/overrides/' + encodeURIComponent(id) + (force ? '?force=true' : ''));
    clear(result).appendChild(el('p', { text: 'deleted ' + id }));
  } catch (e) {
    showError(e, e instanceof ApiError ? () => remove(id, true) : null);
  }
}

export function update(ctx) {
  const s = ctx.status;
  const want = targets(s);
  const have = Array.from(f.target.options).map((o) => o.value);
  if (want.join('\n') !== have.join('\n')) {
    const keep = f.target.value;
    clear(f.target);
    for (const t of want) f.target.appendChild(el('option', { value: t, text: t }));
    if (want.includes(keep)) f.target.value = keep;
  }
  const dis = !ctx.operate;
  clear(list).appendChild(table(['id', 'target', 'state', 'reason', 'author', 'since', 'expires', ''],
    s.overrides.map((o) => el('tr', { 'data-override': o.id }, el('td', { text: o.id }), el('td', { text: o.target }),
      el('td', { text: o.state }), el('td', { class: 'reason', text: o.reason }), el('td', { text: o.author }),
      el('td', {}, since(o.created)), el('td', { text: o.expires ? when(o.expires) : 'never' }),
      el('td', {}, el('button', { type: 'button', text: 'Delete', disabled: dis, title: dis ? RO : null,
        onclick: () => remove(o.id, false) })))), 'no overrides in force'));
}
