// The pure half of `./http.js`: URL checks, the request's method, and what
// a `wasi:http` error code means. Free of WIT imports, so `node --test`
// checks it (see http_parts.test.js) and a plugin's tests can build
// `HttpError`s without a component.

import { TaskError } from './types.js';

/** Why a request failed: `denied` by the host, a `bad-url`, or `failed`. */
export class HttpError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
  /** Denied and bad URLs are permanent; transport failures retryable. */
  toTaskError() {
    return this.kind === 'failed'
      ? TaskError.retryable(this.message)
      : TaskError.permanent(this.message);
  }
}

/** What the host says when it refuses a request (the Rust SDK's words). */
export const DENIED =
  'the URL is not granted by [capabilities] http, or the run sent http_max_requests ' +
  'already (see the task log)';

const METHODS = new Set(['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch']);

/** The WIT `method` variant of `method` (any case). */
export function methodOf(method) {
  const lower = String(method).toLowerCase();
  return METHODS.has(lower) ? { tag: lower } : { tag: 'other', val: String(method) };
}

/**
 * The parts of an http:// or https:// URL a `wasi:http` request takes:
 * `{ scheme: 'HTTP' | 'HTTPS', authority, pathWithQuery }`; a `bad-url`
 * HttpError otherwise.
 */
export function target(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new HttpError('bad-url', `\`${url}\` is not a URL`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.host === '') {
    throw new HttpError('bad-url', `\`${url}\` is not an http:// or https:// URL`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new HttpError('bad-url', 'a URL with user:password@ is not sent: put credentials in a header');
  }
  return {
    scheme: parsed.protocol === 'https:' ? 'HTTPS' : 'HTTP',
    authority: parsed.host,
    pathWithQuery: `${parsed.pathname || '/'}${parsed.search}`,
  };
}

/**
 * The HttpError of a `wasi:http` `error-code` (`{ tag, val }`): the host's
 * `HTTP-request-denied` is `denied`, a URI it refuses `bad-url`, anything
 * else (DNS, connect, timeouts, cut bodies) `failed`.
 */
export function errorOf(code) {
  const tag = code?.tag ?? String(code);
  if (tag === 'HTTP-request-denied') return new HttpError('denied', DENIED);
  if (tag === 'HTTP-request-URI-invalid') return new HttpError('bad-url', 'the host refused the URL');
  const val = code?.val;
  let detail = '';
  if (val !== undefined && val !== null) {
    detail = `: ${typeof val === 'object' ? JSON.stringify(val, (_, v) => (typeof v === 'bigint' ? String(v) : v)) : val}`;
  }
  return new HttpError('failed', `${tag}${detail}`);
}

/** `scheme://host[:port]` of a URL, the form `[capabilities] http` takes. */
export function origin(url) {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
