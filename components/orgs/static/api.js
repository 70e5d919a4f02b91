// The organisation API (/api/org/...) through fetch: JSON in and out, the session's CSRF token
// on every state change, and refusals turned into ApiError (status, stable code, message).

let csrfToken = null;

/** A refusal from the API: `{"error":{"code","message","request_id"}}` and its status. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId ?? null;
  }
}

/**
 * Reads the session's CSRF token from the gateway (`GET /auth/session`). Without a session
 * (a bearer token, or signed out) there is none and state changes rely on the Origin header.
 */
export async function loadSession() {
  try {
    const res = await fetch('/auth/session', {
      headers: { accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (!res.ok) return null;
    const session = await res.json();
    csrfToken = typeof session.csrf_token === 'string' ? session.csrf_token : null;
    return session;
  } catch {
    return null;
  }
}

/**
 * `method path` with an optional JSON body. Resolves to the parsed JSON answer (null for 204);
 * rejects with ApiError for any refusal, including answers that are not JSON.
 */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Try again.');
  }
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') ?? '';
  const json = type.includes('json') ? await res.json().catch(() => null) : null;
  if (res.ok && json !== null) return json;
  const error = json?.error;
  throw new ApiError(
    res.status,
    error?.code ?? `http_${res.status}`,
    error?.message ?? `The server answered ${res.status}.`,
    error?.request_id ?? res.headers.get('x-request-id'),
  );
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

/** `path` with the query parameters in `params` that have a value. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** The tenant's sign-in page, coming back to `returnTo` (a path on this host). */
export function loginUrl(returnTo, invitation) {
  return withQuery('/auth/login', { invitation, return_to: returnTo });
}

/** Sends the browser to sign in, coming back to the current page. */
export function signIn() {
  window.location.assign(loginUrl(window.location.pathname + window.location.search));
}
