// The platform API (/api/platform/...) through fetch, with the admin's platform token from
// sessionStorage as `Authorization: Bearer` (no cookies are sent: the API is bearer-only), and
// refusals turned into ApiError (status, stable code, message).

const TOKEN_KEY = 'tenantgate.platform.token';

/** A refusal from the API: `{"error":{"code","message","request_id"}}` and its status. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId ?? null;
  }
}

/** The stored platform token, or null. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps `value` (trimmed) for this tab until sign-out or the tab closes. */
export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
}

/** Forgets the token (sign-out). */
export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Try again.');
  }
}

async function refusal(res) {
  const type = res.headers.get('content-type') ?? '';
  const json = type.includes('json') ? await res.json().catch(() => null) : null;
  const error = json?.error;
  return new ApiError(
    res.status,
    error?.code ?? `http_${res.status}`,
    error?.message ?? `The server answered ${res.status}.`,
    error?.request_id ?? res.headers.get('x-request-id'),
  );
}

/** `method path` with an optional JSON body; resolves to the parsed JSON answer. */
export async function api(method, path, body) {
  const res = await call(method, path, body);
  if (res.ok) {
    const json = await res.json().catch(() => null);
    if (json !== null) return json;
  }
  throw await refusal(res);
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const del = (path) => api('DELETE', path);

/** Fetches `path` as a file: `{ blob, filename }` (from content-disposition). */
export async function download(path) {
  const res = await call('GET', path);
  if (!res.ok) throw await refusal(res);
  const disposition = res.headers.get('content-disposition') ?? '';
  const match = /filename="([^"]+)"/.exec(disposition);
  return { blob: await res.blob(), filename: match ? match[1] : 'export.ndjson' };
}

/** `path` with the query parameters in `params` that have a value. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
