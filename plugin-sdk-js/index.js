// wasmq-plugin-sdk: a thin layer over the `wasmq:plugin` WIT for handlers
// written in JavaScript and built with componentize-js (see README.md).
//
// Why a layer at all: the raw bindings want `Uint8Array`s, BigInt
// milliseconds and `{ tag: 'err', val }` results; a handler wants
// `task.json()`, `Output.json(...)` and `throw TaskError.retryable(...)`.
// A component imports what its modules import, and the host refuses an
// import the manifest does not grant, so each capability is its own module:
// this one imports only `wasmq:plugin/log` and `progress` (every world has
// them); `./config.js` and `./http.js` need the `http-handler` world, and
// `./kv.js` the `full-handler` world.

import { log as hostLog } from 'wasmq:plugin/log@0.2.0';
import { report } from 'wasmq:plugin/progress@0.2.0';

import { Output, Task, TaskError } from './types.js';

export { Output, Task, TaskError };

/** Structured logs, captured into the task log. */
export const log = {
  trace: (message) => hostLog('trace', String(message)),
  debug: (message) => hostLog('debug', String(message)),
  info: (message) => hostLog('info', String(message)),
  warn: (message) => hostLog('warn', String(message)),
  error: (message) => hostLog('error', String(message)),
};

/** Reports progress; `percent` is clamped to 0..=100. */
export function progress(percent, note = '') {
  report(Math.max(0, Math.min(100, Math.round(percent))), String(note));
}

/**
 * Wraps a handler `(task) => Output | value | Promise<...>` as the
 * `wasmq:plugin/handler` export. A returned `Output` is the result; any
 * other value is sent as JSON. A thrown `TaskError` is the task's error,
 * and an uncaught `HttpError` becomes one (`denied` and `bad-url`
 * permanent, `failed` retryable); any other exception is logged with its
 * stack and becomes a permanent error (retrying a bug does not fix it).
 */
export function handler(fn) {
  return {
    async handle(raw) {
      try {
        const result = await fn(new Task(raw));
        const output = result instanceof Output ? result : Output.json(result ?? null);
        return { tag: 'ok', val: output };
      } catch (e) {
        if (e instanceof TaskError) {
          return { tag: 'err', val: e.toWit() };
        }
        // An HttpError of ./http.js (not imported here: it needs wasi:http).
        if (typeof e?.toTaskError === 'function') {
          return { tag: 'err', val: e.toTaskError().toWit() };
        }
        hostLog('error', `uncaught exception: ${e?.stack ?? e}`);
        return { tag: 'err', val: { kind: 'permanent', message: `uncaught exception: ${e}` } };
      }
    },
  };
}
