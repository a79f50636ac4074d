// The JSON API, called like any client calls it. The token lives in this tab's sessionStorage
// and goes in the Authorization header only: never in a URL, never logged.

const KEY = 'candor.token';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// fetch + Candor's error shape ({"error": {"code", "message"}}). `opts.json` sends JSON,
// `opts.body` sends raw bytes with `opts.type`; `opts.text` reads the answer as text.
export async function api(method, path, opts = {}) {
  const headers = {};
  const t = token();
  if (t && !opts.anonymous) headers['Authorization'] = 'Bearer ' + t;
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    if (opts.type) headers['Content-Type'] = opts.type;
    body = opts.body;
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', 'Candor could not be reached: ' + e.message);
  }
  if (!resp.ok) {
    let code = 'error';
    let message = resp.status + ' ' + resp.statusText;
    try {
      const j = await resp.json();
      if (j && j.error) {
        code = j.error.code;
        message = j.error.message;
      }
    } catch (_) {
      /* not JSON: keep the status line */
    }
    throw new ApiError(resp.status, code, message);
  }
  if (opts.text) return resp.text();
  if (resp.status === 204) return null;
  return resp.json();
}

// An upload with progress (fetch has no upload progress): XMLHttpRequest, same header rules.
export function upload(method, path, file, type, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open(method, path);
    const t = token();
    if (t) x.setRequestHeader('Authorization', 'Bearer ' + t);
    if (type) x.setRequestHeader('Content-Type', type);
    x.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    x.onerror = () => reject(new ApiError(0, 'network', 'Candor could not be reached'));
    x.onload = () => {
      let j = null;
      try {
        j = JSON.parse(x.responseText);
      } catch (_) {
        /* keep null */
      }
      if (x.status >= 200 && x.status < 300) resolve(j);
      else if (j && j.error) reject(new ApiError(x.status, j.error.code, j.error.message));
      else reject(new ApiError(x.status, 'error', 'HTTP ' + x.status));
    };
    x.send(file);
  });
}
