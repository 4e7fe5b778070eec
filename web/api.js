// api.js: one request to the bridge's REST API (openapi.yaml), as client.js sends them.
//
// Paths are relative to the page (or to the bridge's base URL), so the app also works behind a
// reverse proxy that mounts the bridge under a prefix, and requests carry the bridge's cookies:
// with --api-token the page is opened once as /?access_token=TOKEN and then rides on the
// HttpOnly chatbridge_token cookie. Every POST and PUT says Content-Type: application/json, even with an
// empty body: the bridge refuses anything else (415), which is what keeps other sites from
// posting to it with a plain form.
//
// Failures throw ApiError, built from the RFC 9457 problem document the bridge answers with.

/** ApiError is a refused or failed request: the bridge's problem document, or a network error. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the bridge could not be reached at all.
   * @param {{type?: string, title?: string, detail?: string, errors?: {field: string, message: string}[]}} problem
   * @param {number|null} retryAfter seconds from the Retry-After header, if any.
   */
  constructor(status, problem, retryAfter = null) {
    const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
    super([problem.detail ?? problem.title ?? `HTTP ${status}`, ...fields].join('; '));
    this.name = 'ApiError';
    this.status = status;
    this.type = problem.type ?? '';
    this.title = problem.title ?? '';
    this.errors = problem.errors ?? [];
    this.retryAfter = retryAfter;
  }

  /** True when the path does not exist, e.g. a snapshot endpoint of an older bridge. */
  get notFound() {
    return this.status === 404;
  }
}

/**
 * request sends one API call and answers its decoded JSON body (null for 204 and empty bodies).
 * @param {'GET'|'POST'|'PUT'|'DELETE'} method
 * @param {string} path relative to the page (or absolute), e.g. "messages".
 * @param {object} [body] JSON body; POST and PUT send {} when absent.
 */
export async function request(method, path, body) {
  /** @type {RequestInit & {headers: Record<string, string>}} */
  const init = {
    method,
    credentials: 'include', // the bridge's cookie, also for a page of another (allowed) origin
    headers: { Accept: 'application/json, application/problem+json' },
  };
  if (method === 'POST' || method === 'PUT') {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }

  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { title: 'Network error', detail: `the bridge did not answer (${err.message})` });
  }

  // Always read the body to its end (even a 204's): a body left unread shows up as an aborted
  // request in the browser's network log.
  const text = await res.text().catch(() => '');
  let data = null;
  if (text && (res.headers.get('Content-Type') ?? '').includes('json')) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const retry = Number.parseInt(res.headers.get('Retry-After') ?? '', 10);
    throw new ApiError(res.status, data ?? { title: res.statusText }, Number.isNaN(retry) ? null : retry);
  }
  return data;
}

/**
 * newClientMessageId makes the idempotency key of a message. crypto.randomUUID exists only in
 * secure contexts (https, localhost, 127.0.0.1); behind a plain-http proxy the fallback builds
 * the same shape of id from crypto.getRandomValues, which exists everywhere.
 */
export function newClientMessageId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
