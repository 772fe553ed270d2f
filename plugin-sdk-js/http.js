// Outbound HTTP over `wasi:http/outgoing-handler` and `wasi:http/types`
// directly (granted by `[capabilities] http`). The host checks every
// request against the grant, caps the number of requests and the response
// body, and clamps timeouts to the task's deadline.
//
// Why not `fetch`: componentize-js's `fetch` turns every `wasi:http`
// error code into one generic "NetworkError", so a request the host denied
// (not granted, or over `http_max_requests`) looked like a refused
// connection and was retried until the task died. Here the SDK sees the
// host's error code itself: `HTTP-request-denied` is a `denied` HttpError,
// which is permanent. The logic is that of the Python SDK's http.py.

import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, OutgoingBody, OutgoingRequest } from 'wasi:http/types@0.2.12';
import { errorOf, HttpError, methodOf, target } from './http_parts.js';

export { HttpError, origin } from './http_parts.js';

/** Bytes per write: `blocking-write-and-flush` takes at most 4096. */
const CHUNK = 4096;
/** Bytes asked for per read of the response body. */
const READ = 65536;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Drops a resource handle now, children before parents as `wasi:http`
 * requires (left to the garbage collector, they would go in any order).
 */
function drop(resource) {
  resource?.[Symbol.dispose]?.();
}

/** The variant a WIT call threw: the bindings throw it bare or as `payload`. */
function thrown(e) {
  return e !== null && typeof e === 'object' && 'payload' in e ? e.payload : e;
}

/** Writes the whole body; false when the host stopped taking it. */
function writeBody(outgoing, bytes) {
  const stream = outgoing.write();
  try {
    for (let start = 0; start < bytes.length; start += CHUNK) {
      stream.blockingWriteAndFlush(bytes.subarray(start, start + CHUNK));
    }
    return true;
  } catch {
    return false;
  } finally {
    // A body's stream goes before the body.
    drop(stream);
  }
}

/** Reads a response body to its end (the host caps its size). */
function readBody(incoming) {
  const stream = incoming.stream();
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      let chunk;
      try {
        chunk = stream.blockingRead(BigInt(READ));
      } catch (e) {
        const error = thrown(e);
        if (error?.tag === 'closed') break;
        throw new HttpError(
          'failed',
          `reading the body: ${error?.tag ?? error} (over the host's size cap, or cut)`,
        );
      }
      chunks.push(chunk);
      total += chunk.length;
    }
  } finally {
    drop(stream);
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}

/** One response: `status`, `headers` (lower-case names), `body`, `header(name)`, `text()`. */
function response(status, headers, body) {
  return {
    status,
    headers,
    body,
    header(name) {
      const found = headers.find(([k]) => k === name.toLowerCase());
      return found ? found[1] : undefined;
    },
    text() {
      return decoder.decode(body);
    },
  };
}

export const http = {
  /**
   * Sends a request and reads the whole answer. `body` is a string or
   * bytes. Throws an `HttpError` whose `kind` is `denied` (by the host:
   * not granted, or over `http_max_requests`), `bad-url` or `failed`.
   */
  async send(method, url, headers = [], body = undefined) {
    const { scheme, authority, pathWithQuery } = target(url);
    const bytes = typeof body === 'string' ? encoder.encode(body) : body;
    const list = headers.map(([k, v]) => [String(k).toLowerCase(), encoder.encode(String(v))]);
    // A known length, so servers that refuse chunked uploads take the body.
    if (bytes !== undefined && !list.some(([k]) => k === 'content-length')) {
      list.push(['content-length', encoder.encode(String(bytes.length))]);
    }
    let fields;
    try {
      fields = Fields.fromList(list);
    } catch (e) {
      throw new HttpError('bad-url', `a header is not allowed: ${thrown(e)?.tag ?? thrown(e)}`);
    }
    const request = new OutgoingRequest(fields);
    request.setMethod(methodOf(method));
    request.setScheme({ tag: scheme });
    request.setAuthority(authority);
    request.setPathWithQuery(pathWithQuery);
    const outgoing = request.body();
    let future;
    try {
      future = handle(request, undefined);
    } catch (e) {
      throw errorOf(thrown(e));
    }
    // The body is written after the request is handed over, so the host can
    // stream it. If the host stops taking it (it refused the request, or the
    // server answered early), dropping the unfinished body settles the
    // request, and the response (or its error) says which.
    if (bytes === undefined || writeBody(outgoing, bytes)) {
      try {
        OutgoingBody.finish(outgoing, undefined);
      } catch {
        // The response says why.
      }
    } else {
      drop(outgoing);
    }
    let answer;
    try {
      const ready = future.subscribe();
      ready.block();
      drop(ready);
      answer = future.get();
    } finally {
      drop(future);
    }
    if (answer === undefined || answer.tag !== 'ok') {
      throw new HttpError('failed', 'the response was lost');
    }
    if (answer.val.tag === 'err') throw errorOf(answer.val.val);
    const incoming = answer.val.val;
    try {
      const status = incoming.status();
      // `headers` is a child of the response: read and dropped at once.
      const head = incoming.headers();
      const pairs = head.entries().map(([k, v]) => [k.toLowerCase(), decoder.decode(v)]);
      drop(head);
      const body = incoming.consume();
      try {
        return response(status, pairs, readBody(body));
      } finally {
        drop(body);
      }
    } finally {
      drop(incoming);
    }
  },
  get(url, headers = []) {
    return http.send('GET', url, headers);
  },
};
