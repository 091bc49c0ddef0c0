// app.js -- the console's shell: sign-in, navigation, the live status.
//
// Plain ES modules served by gtmd itself: nothing to build, no bundler,
// no framework and no download at build time; the files in src/admin/ui
// are what the browser runs, so what is reviewed is what is served, and
// the strict Content-Security-Policy (script-src 'self', no inline
// script or style) holds without hashes or nonces.
//
// Every view module exports mount(ctx, root) (build the view once) and
// update(ctx) (the status changed). ctx.status is the newest
// GET /v1/status; it is fetched again at once after every event of the
// stream (so a change shows within a second) and every 10 s anyway.

import { api, ApiError, forget, setToken, streamEvents, token } from './api.js';
import { ago, clear, el } from './dom.js';
import * as overview from './overview.js';
import * as records from './records.js';
import * as explain from './explain.js';
import * as overrides from './overrides.js';
import * as drills from './drills.js';
import * as audit from './audit.js';
import * as health from './health.js';

const views = { overview, records, explain, overrides, drills, audit };
const $ = (id) => document.getElementById(id);

const ctx = {
  status: null,
  operate: false,
  token: '',
  lastEvent: null,
  refresh: () => refreshSoon(0),
  listeners: [],
  onEvent(fn) { this.listeners.push(fn); },
};

let current = null;
let stopStream = null;
let pending = null;
let poll = null;

// The fragment's parts: "#view=audit&token=T" -> {view: 'audit', token: 'T'};
// a bare part ("#audit") is a view. Decoded with decodeURIComponent, not as
// a query string: a '+' in a token stays a '+'.
function fragment(hash) {
  const f = Object.create(null);
  for (const part of hash.replace(/^#/, '').split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    let k = i < 0 ? 'view' : part.slice(0, i);
    let v = i < 0 ? part : part.slice(i + 1);
    try { k = decodeURIComponent(k); v = decodeURIComponent(v); } catch (e) { continue; }
    if (!(k in f)) f[k] = v;
  }
  return f;
}

// The view a fragment names ("#audit", "#view=audit&token=..."), or ''.
function fragmentView(hash) {
  return (fragment(hash).view || '').split('/')[0];
}

function hasFragmentToken() {
  return fragment(location.hash).token !== undefined;
}

function takeFragmentToken() {
  // /ui/#view=audit&token=...: the fragment never reaches the server; the
  // token is removed from the address bar (and history) at once, and the
  // link lands on the view it names (the overview when none).
  const t = fragment(location.hash).token;
  if (t === undefined) return;
  setToken(t);
  const v = fragmentView(location.hash);
  history.replaceState(null, '', location.pathname + '#' + (views[v] ? v : 'overview'));
}

// Ends the event stream and the poll of a previous sign-in (a #token= link
// opened while signed in would otherwise run two of each).
function stopLive() {
  if (stopStream) stopStream();
  stopStream = null;
  clearInterval(poll);
  poll = null;
}

async function signIn() {
  stopLive();
  if (!token()) return showSignIn('');
  let who;
  try {
    who = await api('GET', '/v1/whoami');
  } catch (e) {
    forget();
    return showSignIn(e instanceof ApiError && e.status === 401
      ? 'This token is not accepted.' : 'Cannot reach gtmd: ' + e.message);
  }
  ctx.operate = !!who.operate;
  ctx.token = who.token;
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('signout').hidden = false;
  $('who').textContent = 'token: ' + who.token;
  $('readonly-note').hidden = ctx.operate;
  document.body.classList.toggle('readonly', !ctx.operate);
  // The health chart's past, then the stream from right after it.
  let from = null;
  try { from = await health.load(); } catch (e) { from = null; }
  stopStream = streamEvents(onEvent, (up) => {
    $('live').textContent = up ? 'live' : 'offline';
    $('live').className = 'live ' + (up ? 'on' : 'off');
    if (up) refreshSoon(0);
  }, from);
  poll = setInterval(() => refreshSoon(0), 10000);
  route();
}

function showSignIn(msg) {
  $('signin').hidden = false;
  $('nav').hidden = true;
  $('signout').hidden = true;
  $('readonly-note').hidden = true;
  $('signin-error').textContent = msg;
  clear($('view'));
}

function onEvent(type, data) {
  ctx.lastEvent = { type, data };
  if (type === 'health') health.add(data);
  for (const fn of ctx.listeners) fn(type, data);
  refreshSoon(50);
}

// One status fetch at a time; a refresh asked for while one is on its
// way (an event that came during the fetch) runs once it is back, so the
// page never stays behind an event.
let inflight = false;
let again = false;
function refreshSoon(ms) {
  if (pending) return;
  if (inflight) { again = true; return; }
  pending = setTimeout(async () => {
    pending = null;
    inflight = true;
    try {
      ctx.status = await api('GET', '/v1/status');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { inflight = false; signOut(); return; }
    }
    inflight = false;
    if (current && ctx.status) current.update(ctx);
    if (again) { again = false; refreshSoon(0); }
  }, ms);
}

function route() {
  if (!token()) return;
  const name = fragmentView(location.hash) || 'overview';
  const v = views[name] || overview;
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.dataset.view === (views[name] ? name : 'overview'));
  ctx.listeners = [];
  current = v;
  const root = clear($('view'));
  v.mount(ctx, root);
  if (ctx.status) v.update(ctx);
  else refreshSoon(0);
}

function signOut() {
  forget();
  stopLive();
  current = null;
  ctx.status = null;
  showSignIn('');
}

// "How long so" texts stay current without a refetch.
setInterval(() => {
  for (const n of document.querySelectorAll('[data-since]'))
    if (n.dataset.since) n.textContent = ago(Number(n.dataset.since));
}, 1000);

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken($('token').value.trim());
    $('token').value = '';
    signIn();
  });
  $('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => {
    if (hasFragmentToken()) { takeFragmentToken(); signIn(); return; }
    route();
  });
  takeFragmentToken();
  signIn();
});

