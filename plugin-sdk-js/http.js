// Outbound HTTP through `fetch`, which componentize-js implements over
// `wasi:http/outgoing-handler` (granted by `[capabilities] http`). The host
// checks every request against the grant and caps bodies and counts.

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

export const http = {
  /**
   * Sends a request and reads the whole answer:
   * `{ status, headers: [[name, value]...], body: Uint8Array, header(name), text() }`.
   */
  async send(method, url, headers = [], body = undefined) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch (e) {
      throw new HttpError('bad-url', `\`${url}\` is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new HttpError('bad-url', `\`${url}\` is not http:// or https://`);
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, redirect: 'manual' });
    } catch (e) {
      const why = String(e?.message ?? e);
      const kind = /denied/i.test(why) ? 'denied' : 'failed';
      throw new HttpError(kind, why);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const list = [...response.headers.entries()];
    return {
      status: response.status,
      headers: list,
      body: bytes,
      header(name) {
        const found = list.find(([k]) => k.toLowerCase() === name.toLowerCase());
        return found ? found[1] : undefined;
      },
      text() {
        return new TextDecoder().decode(bytes);
      },
    };
  },
  get(url, headers = []) {
    return http.send('GET', url, headers);
  },
};

/** `scheme://host[:port]` of a URL, the form `[capabilities] http` takes. */
export function origin(url) {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
