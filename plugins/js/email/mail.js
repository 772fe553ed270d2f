// The logic of `email-js`, free of WIT imports so `node --test` checks it:
// the same rules as the Rust `email` plugin (plugins/email/src), which
// this plugin mirrors message for message.
//
// - a missing or malformed `to`, an empty `subject`, or a field of the wrong
//   type (`"body": 5`, `"retry_after_ms": 1.5`: what Rust's serde refuses)
//   is a permanent error naming the field;
// - `"simulate": "transient"` fails every attempt, and `"fail_attempts": N`
//   fails attempts 1..=N, with a retry after `retry_after_ms` (default 1000);
// - the mail API's answer maps to success, a retry or a dead letter as
//   `verdict` says; the token never reaches a message.

import { TaskError } from '../../../plugin-sdk-js/types.js';

const MAX_RETRY_AFTER_MS = 3600 * 1000;
const EXCERPT_CHARS = 200;
// The ranges of Rust's u32 and u64, as [exclusive bound, largest value].
const U32 = [2 ** 32, '4294967295'];
const U64 = [2 ** 64, '18446744073709551615'];
const FIELDS = new Set(['to', 'subject', 'body', 'simulate', 'fail_attempts', 'retry_after_ms']);

export function fieldError(field, problem) {
  return TaskError.permanent(`email payload: field \`${field}\` ${problem}`);
}

/** Why `address` is not `local@domain.tld`, or undefined when it is. */
export function checkAddress(address) {
  if (address.length > 254) return 'is longer than 254 characters';
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(address)) return 'contains whitespace';
  const at = address.indexOf('@');
  if (at < 0) return 'has no `@`: expected local@domain.tld';
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local === '' || domain.includes('@')) return 'is not of the form local@domain.tld';
  const labels = domain.split('.');
  if (labels.length < 2 || labels.some((l) => l === '')) {
    return 'has no valid domain: expected local@domain.tld';
  }
  return undefined;
}

/** 64-bit FNV-1a of bytes, as 16 hex digits. */
export function fnv1a64(bytes) {
  let hash = 0xcbf29ce484222325n;
  for (const b of bytes) {
    hash = BigInt.asUintN(64, (hash ^ BigInt(b)) * 0x100000001b3n);
  }
  return hash.toString(16).padStart(16, '0');
}

/** A value as a message shows it: JSON, cut short. */
function shown(value) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** `email[field]` if it is a string; undefined if absent or null (Rust's `Option<String>`). */
function optionalString(email, field) {
  const value = email[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw fieldError(field, `must be a string, not ${shown(value)}`);
  return value;
}

/**
 * `email[field]` if it is a whole number in the `range` of a Rust integer
 * type; undefined if absent or null. JSON numbers are doubles here, so the
 * bound is one too (the last few values below 2^64 round up to it).
 */
function optionalWhole(email, field, [bound, largest], unit) {
  const value = email[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= bound) {
    throw fieldError(field, `must be a whole number${unit} from 0 to ${largest}, not ${shown(value)}`);
  }
  return value;
}

/**
 * The payload's fields with Rust's types (serde refuses the payload on the
 * first wrongly typed field): strings, a u32 `fail_attempts` and a u64
 * `retry_after_ms`; a wrong type is a permanent error naming the field.
 */
export function fields(email) {
  if (email === null || typeof email !== 'object' || Array.isArray(email)) {
    throw TaskError.permanent('email payload: expected a JSON object');
  }
  for (const key of Object.keys(email)) {
    if (!FIELDS.has(key)) throw TaskError.permanent(`email payload: unknown field \`${key}\``);
  }
  if ('body' in email && typeof email.body !== 'string') {
    throw fieldError('body', `must be a string, not ${shown(email.body)}`);
  }
  return {
    to: optionalString(email, 'to'),
    subject: optionalString(email, 'subject'),
    body: email.body ?? '',
    simulate: optionalString(email, 'simulate'),
    failAttempts: optionalWhole(email, 'fail_attempts', U32, ''),
    retryAfterMs: optionalWhole(email, 'retry_after_ms', U64, ' of milliseconds'),
  };
}

/** Validates the payload and plays its simulated failures. */
export function prepare(task) {
  const email = fields(task.json());
  const to = email.to;
  if (to === undefined) throw fieldError('to', 'is missing');
  const why = checkAddress(to);
  if (why) throw fieldError('to', `\`${to}\` ${why}`);
  const subject = email.subject ?? '';
  if (subject.trim() === '') {
    throw fieldError('subject', 'is empty: every message needs a subject');
  }
  const retryAfterMs = email.retryAfterMs ?? 1000;
  if (email.simulate !== undefined) {
    if (email.simulate !== 'transient') {
      throw fieldError('simulate', `\`${email.simulate}\` is unknown: use "transient"`);
    }
    throw TaskError.retryable('simulated transient failure: mail server busy', retryAfterMs);
  }
  const failures = email.failAttempts;
  if (failures !== undefined && task.attempt <= failures) {
    throw TaskError.retryable(
      `simulated failure on attempt ${task.attempt} of the first ${failures}`,
      retryAfterMs,
    );
  }
  return {
    to,
    subject,
    body: email.body,
    messageId: `<${fnv1a64(task.payload)}@wasmq.invalid>`,
    retryAfterMs,
  };
}

/** The API's URL and token, or a permanent error naming the manifest key. */
export function settings(api, token) {
  if (api === undefined) {
    throw TaskError.permanent(
      'email: no `mail_api` in [config] of email-js.toml: set it to the mail API\'s URL, ' +
        'e.g. mail_api = "https://mail.example.com/v1/messages"',
    );
  }
  if (token === undefined) {
    throw TaskError.permanent(
      'email: no `mail_token` in [secrets] of email-js.toml: add [secrets] mail_token = ' +
        '"env:MAIL_TOKEN" (or "file:/path") so the host can hand over the API token',
    );
  }
  let problem;
  if (token.trim() === '') problem = 'is empty: set the variable or file it names to the API token';
  else if (/[\u0000-\u001f\u007f-\u009f]/.test(token)) {
    problem = 'contains a control character (a trailing newline in its file?): remove it';
  }
  if (problem) throw TaskError.permanent(`email: [secrets] mail_token in email-js.toml ${problem}`);
  return { api, token };
}

/** The request for one message, minus the URL. */
export function request(message, token) {
  return {
    headers: [
      ['content-type', 'application/json'],
      ['authorization', `Bearer ${token}`],
      ['idempotency-key', message.messageId],
    ],
    body: JSON.stringify({
      to: message.to,
      subject: message.subject,
      body: message.body,
      message_id: message.messageId,
    }),
  };
}

/** `text` with every occurrence of `token` replaced by `<mail_token>`. */
export function blank(text, token) {
  return token === '' ? text : text.split(token).join('<mail_token>');
}

/** `error` with the token blanked out of its message; kind and delay kept. */
export function redact(error, token) {
  return new TaskError(error.kind, blank(error.message, token), error.retryAfterMs);
}

/** The log line of a sent message; the body's size in UTF-8 bytes, as sent. */
export function sentLine(message, receipt) {
  return (
    `sent ${JSON.stringify(message.subject)} to ${message.to} ` +
    `(${new TextEncoder().encode(message.body).length} body bytes) as ${message.messageId} ` +
    `(mail API answered ${receipt.status}` +
    `${receipt.providerId ? `, id ${JSON.stringify(receipt.providerId)}` : ''})`
  );
}

export function excerpt(bytes, token) {
  const chars = [...blank(new TextDecoder().decode(bytes), token)];
  let line = chars.slice(0, EXCERPT_CHARS).map((c) => (/[\u0000-\u001f\u007f-\u009f]/.test(c) ? ' ' : c)).join('');
  if (chars.length > EXCERPT_CHARS) line += '…';
  return line.trim() === '' ? '(empty body)' : line.trim();
}

/** A `Retry-After` in whole seconds as ms, capped at an hour. */
export function retryAfter(value) {
  const v = (value ?? '').trim();
  if (v === '' || v.length > 19 || !/^[0-9]+$/.test(v)) return undefined;
  return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
}

/** What the API's answer means for this attempt. */
export function verdict(response, busyDelayMs, token) {
  const status = response.status;
  if (status >= 200 && status <= 299) {
    let providerId;
    try {
      const id = JSON.parse(new TextDecoder().decode(response.body)).id;
      if (typeof id === 'string') providerId = blank(id, token);
    } catch {
      // Not JSON: sent all the same, without a provider id.
    }
    return { status, providerId };
  }
  if (status === 429 || status === 503) {
    const asked = retryAfter(response.header('retry-after'));
    const [delay, why] =
      asked === undefined
        ? [busyDelayMs, "(the payload's retry_after_ms)"]
        : [asked, 'as its Retry-After asked'];
    throw TaskError.retryable(
      `email: mail API is busy (${status}): retrying in ${delay} ms ${why}`,
      delay,
    );
  }
  if (status >= 500 && status <= 599) {
    throw TaskError.retryable(`email: mail API answered ${status}: ${excerpt(response.body, token)}`);
  }
  if (status === 401 || status === 403) {
    throw TaskError.permanent(
      `email: mail API refused the credentials (${status}): check [secrets] mail_token in email-js.toml`,
    );
  }
  if (status >= 400 && status <= 499) {
    throw TaskError.permanent(
      `email: mail API rejected the message (${status}): ${excerpt(response.body, token)}`,
    );
  }
  const location = response.header('location');
  throw TaskError.permanent(
    `email: mail API answered ${status}${location ? ` (location: ${blank(location, token)})` : ''}, ` +
      'not a verdict on the message: set mail_api in [config] of email-js.toml to the endpoint ' +
      'itself (redirects are not followed)',
  );
}

/** What a failed request means: a denial is permanent and names the grant. */
export function transportError(error, api, origin) {
  if (error.kind === 'denied') {
    return TaskError.permanent(
      `email: the host denied POST ${api} (${error.message}): grant it in email-js.toml with ` +
        `[capabilities] http = ["${origin}"]`,
    );
  }
  if (error.kind === 'bad-url' && error.message.startsWith('a header')) {
    return TaskError.permanent(
      `email: the request to ${api} has a header the host refuses (${error.message}): check ` +
        '[secrets] mail_token in email-js.toml for stray characters',
    );
  }
  if (error.kind === 'bad-url') {
    return TaskError.permanent(
      `email: mail_api \`${api}\` in [config] of email-js.toml is not a usable URL ` +
        `(${error.message}): set it to an http:// or https:// URL`,
    );
  }
  return TaskError.retryable(
    `email: POST ${api} failed (${error.message}): will retry; check that the mail API is up`,
  );
}
