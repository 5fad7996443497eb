// Talking to simd: JSON in and out, and the cluster token. Mutations over TCP need the
// token; when one is refused (401/403) the page asks for it once, keeps it for the
// session (sessionStorage) and tries again. A URL fragment "#token=..." fills it in.
// A token kept also goes with every read of the server that served the page (a private
// tank is read with it), never to another server's origin: a header there would need a
// CORS preflight, and the map reads only what those servers show everyone.

const KEY = 'tankworld-token';
let asking = null;

export function token() {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

// "#token=abc" or "#/tanks/x?token=abc": keep the token, drop it from the address bar.
export function takeTokenFromHash() {
  const h = location.hash;
  const m = h.match(/[#?&]token=([^&]*)/);
  if (!m) return;
  // A bad %-escape is taken as typed rather than leaving the page unrendered.
  let t;
  try { t = decodeURIComponent(m[1]); } catch { t = m[1]; }
  setToken(t);
  let rest = h.replace(/[?&]?token=[^&]*/, '').replace(/^#$/, '');
  if (rest === '' || rest === '#') rest = '#/';
  history.replaceState(null, '', location.pathname + location.search + rest);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

function askToken(reason) {
  if (asking) return asking;
  const dlg = document.getElementById('token-dialog');
  const input = dlg.querySelector('input');
  dlg.querySelector('.why').textContent = reason;
  input.value = '';
  asking = new Promise((resolve) => {
    const done = (ok) => {
      dlg.close();
      asking = null;
      resolve(ok ? input.value.trim() : '');
    };
    dlg.querySelector('form').onsubmit = (e) => { e.preventDefault(); done(true); };
    dlg.querySelector('.cancel').onclick = () => done(false);
    dlg.showModal();
    input.focus();
  });
  return asking;
}

// The headers of a request: the token goes with every request to the server that
// served the page, and only with changes to another one (a read there needs none, and
// the token is not handed to every server the map reads).
function headersFor(accept, method, base) {
  const headers = { Accept: accept };
  const t = token();
  if (method !== 'GET') headers['Content-Type'] = 'application/json';
  if (t && (method !== 'GET' || base === '')) headers.Authorization = 'Bearer ' + t;
  return headers;
}

// base: '' for the simd that served the page, else "http://host:port" of another one.
// timeout (ms), when given, gives up on a server that does not answer (an ApiError of
// status 0): one hung server must not hold up a page that asks several.
export async function api(path, { method = 'GET', body, base = '', timeout = 0 } = {}) {
  for (let attempt = 0; ; attempt++) {
    const t = token();
    const headers = headersFor('application/json', method, base);
    let r;
    try {
      r = await fetch(base + path, {
        method, headers,
        body: method === 'GET' ? undefined : JSON.stringify(body || {}),
        signal: timeout ? AbortSignal.timeout(timeout) : undefined,
      });
    } catch (err) {
      if (err.name === 'TimeoutError') throw new ApiError(0, { error: `no answer within ${timeout / 1000} s` });
      throw err;
    }
    let data = null;
    try { data = await r.json(); } catch { /* not JSON */ }
    if ((r.status === 401 || r.status === 403) && method !== 'GET' && attempt === 0 &&
        !(data && data.code === 'transfers_disabled')) {
      const got = await askToken(t ? 'The token was refused; enter the cluster token.'
                                   : 'This server needs the cluster token to change anything.');
      if (got) { setToken(got); continue; }
    }
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }
}

// A Server-Sent Events stream of the server that served the page, read with fetch
// rather than EventSource, which can neither carry the token (a private tank's stream
// needs it) nor show the server's keep-alive comments. Those come every 2 s of quiet
// (simd's stream), so SILENT_MS without a byte means the server stopped answering (a
// hung simd): the stream is ended, where an EventSource waited for ever on a frozen
// frame. onEvent gets each event's data; onEnd(status) is called once, with the HTTP
// status of a refusal, or 0 when the stream broke, went silent or ended. close() ends
// it without onEnd.
export const SILENT_MS = 6000;

export function openEvents(path, { onOpen, onEvent, onEnd }) {
  const ctl = new AbortController();
  let ended = false, timer = 0;
  const stop = () => { ended = true; clearTimeout(timer); ctl.abort(); };
  const end = (status) => { if (!ended) { stop(); onEnd(status); } };
  const arm = () => { clearTimeout(timer); timer = setTimeout(() => end(0), SILENT_MS); };
  (async () => {
    arm();
    let r;
    try {
      r = await fetch(path, { headers: headersFor('text/event-stream', 'GET', ''), signal: ctl.signal, cache: 'no-store' });
    } catch { end(0); return; }
    if (!r.ok || !r.body) { end(r.ok ? 0 : r.status); return; }
    if (ended) return;
    onOpen();
    // Events end with a blank line. A frame of a big tank comes in many pieces: they are
    // kept in a list and joined once, and each is searched once for the end.
    const reader = r.body.getReader(), dec = new TextDecoder();
    let parts = [], nl = false; // nl: what is kept ends with "\n"
    const emit = () => {
      const block = parts.join('');
      parts = [];
      const data = block.split('\n').filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(l[5] === ' ' ? 6 : 5)).join('\n');
      if (data && !ended) onEvent(data);
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || ended) break;
        arm();
        const s = dec.decode(value, { stream: true });
        let at = 0;
        if (nl && s[0] === '\n') { emit(); at = 1; }
        for (let i; (i = s.indexOf('\n\n', at)) >= 0; at = i + 2) {
          parts.push(s.slice(at, i));
          emit();
        }
        if (at < s.length) parts.push(s.slice(at));
        nl = at < s.length ? s.endsWith('\n') : false;
      }
    } catch { /* broken, or closed */ }
    end(0);
  })();
  return { close: stop };
}

export function toast(msg, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = document.createElement('div');
  el.className = 'toast ' + kind;
  el.textContent = msg;
  box.appendChild(el);
  setTimeout(() => el.classList.add('gone'), 3500);
  setTimeout(() => el.remove(), 4200);
}
