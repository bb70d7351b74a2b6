// SPDX-License-Identifier: MIT
// Parley web - REST calls. The session is the HttpOnly parley_token cookie the server set at
// sign-in: scripts never see the token. Every request carries X-Parley-CSRF, which the server
// requires of cookie-authenticated state changes (other origins cannot add the header).

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || null;
  }
}

// An overloaded or briefly unavailable server answers 503 (or 429) with Retry-After: the request
// did nothing, and sends carry a client_msg_id, so it is safe to ask again after that wait. At
// most RETRY_TRIES times, and only for waits up to RETRY_MAX_S; anything longer is the caller's.
const RETRY_TRIES = 3;
const RETRY_MAX_S = 30;

function retryAfterMs(r) {
  if (r.status !== 503 && r.status !== 429) return -1;
  const s = Number(r.headers.get('Retry-After'));
  if (!Number.isFinite(s) || s < 0 || s > RETRY_MAX_S) return -1;
  // A little jitter, so that many clients refused at once do not return at once.
  return s * 1000 + Math.floor(Math.random() * 250);
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});

export async function api(method, path, body, opts = {}) {
  const headers = { 'X-Parley-CSRF': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  for (let attempt = 0; ; attempt++) {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
    const wait = attempt < RETRY_TRIES ? retryAfterMs(r) : -1;
    if (wait < 0) break;
    await r.arrayBuffer().catch(() => null);
    await sleep(wait, opts.signal);
  }
  const text = r.status === 204 ? '' : await r.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b) => api('POST', p, b === undefined ? {} : b);

// A presigned PUT with upload progress and cancel: fetch() has no upload progress, XHR does.
export function upload(url, blob, contentType, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve()
      : reject(new ApiError(xhr.status, null)));
    xhr.onerror = () => reject(new Error('upload failed'));
    xhr.onabort = () => reject(Object.assign(new Error('upload cancelled'), { cancelled: true }));
    xhr.send(blob);
  });
  return { done, cancel: () => xhr.abort() };
}

export async function sha256Hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function clientMsgId() {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return 'w-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
