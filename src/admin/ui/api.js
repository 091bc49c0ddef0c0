// api.js -- the admin API with the bearer token, and the event stream.
//
// The token lives in this tab's sessionStorage only (no cookie, so no
// CSRF; closing the tab forgets it). EventSource cannot send an
// Authorization header and a token in the URL would reach logs, so the
// stream is read with fetch() and parsed here (text/event-stream).

const KEY = 'gtmd-token';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(t) { sessionStorage.setItem(KEY, t); }
export function forget() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : {};
    super(e.message || ('HTTP ' + status));
    this.status = status;
    this.code = e.code || '';
    this.body = body;
  }
}

// Calls the API; resolves to the parsed JSON body or throws ApiError.
export async function api(method, path, body) {
  const opts = { method, headers: { Authorization: 'Bearer ' + token() }, cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let json = null;
  try { json = await res.json(); } catch (e) { json = null; }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// Reads GET /v1/events until stopped; onEvent(type, data) for each event,
// onState(true/false) when the stream opens or breaks. Reconnects after
// 2 s with Last-Event-ID, so nothing still kept is missed. from: the id
// of the last event already read (GET /v1/history), or null for only the
// new ones. Returns a stop function.
export function streamEvents(onEvent, onState, from) {
  let last = from === undefined || from === null ? null : String(from);
  let stopped = false;
  let ctl = null;
  async function once() {
    ctl = new AbortController();
    const headers = { Authorization: 'Bearer ' + token(), Accept: 'text/event-stream' };
    if (last !== null) headers['Last-Event-ID'] = String(last);
    const res = await fetch('/v1/events', { headers, signal: ctl.signal, cache: 'no-store' });
    if (!res.ok || !res.body) throw new ApiError(res.status, null);
    onState(true);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value.replace(/\r\n?/g, '\n');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = parseBlock(block);
        if (ev.id !== null) last = ev.id;
        if (ev.data !== null) {
          let data = null;
          try { data = JSON.parse(ev.data); } catch (e) { data = null; }
          onEvent(ev.event || 'message', data);
        }
      }
    }
  }
  (async () => {
    while (!stopped) {
      try { await once(); } catch (e) { /* broken: retried below */ }
      onState(false);
      if (stopped) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => { stopped = true; if (ctl) ctl.abort(); };
}

function parseBlock(block) {
  const ev = { id: null, event: null, data: null };
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') ev.id = value;
    else if (field === 'event') ev.event = value;
    else if (field === 'data') ev.data = ev.data === null ? value : ev.data + '\n' + value;
  }
  return ev;
}
