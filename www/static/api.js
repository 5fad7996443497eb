// Talking to simd: JSON in and out, and the cluster token. Mutations over TCP need the
// token; when one is refused (401/403) the page asks for it once, keeps it for the
// session (sessionStorage) and tries again. A URL fragment "#token=..." fills it in.

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

// base: '' for the simd that served the page, else "http://host:port" of another one.
// timeout (ms), when given, gives up on a server that does not answer (an ApiError of
// status 0): one hung server must not hold up a page that asks several.
export async function api(path, { method = 'GET', body, base = '', timeout = 0 } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: 'application/json' };
    const t = token();
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      if (t) headers.Authorization = 'Bearer ' + t;
    }
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

export function toast(msg, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = document.createElement('div');
  el.className = 'toast ' + kind;
  el.textContent = msg;
  box.appendChild(el);
  setTimeout(() => el.classList.add('gone'), 3500);
  setTimeout(() => el.remove(), 4200);
}
