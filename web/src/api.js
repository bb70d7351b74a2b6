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

export async function api(method, path, body, opts = {}) {
  const headers = { 'X-Parley-CSRF': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    signal: opts.signal,
  });
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
