// `node --test plugins/js/email`: the rules of mail.js, as the Rust
// plugin's unit tests check them (plugins/email/src).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Task } from '../../../plugin-sdk-js/types.js';
import { TaskError } from '../../../plugin-sdk-js/types.js';
import { HttpError } from '../../../plugin-sdk-js/http_parts.js';
import {
  checkAddress, excerpt, fnv1a64, prepare, redact, request, retryAfter, sentLine, settings, transportError, verdict,
} from './mail.js';

const TOKEN = 'tok-s3cret';
const message = () => ({
  to: 'ada@example.com',
  subject: 'hi "there"',
  body: 'line 1\nline 2',
  messageId: '<00000000000000ff@wasmq.invalid>',
  retryAfterMs: 1500,
});

const task = (payload, attempt = 1) =>
  new Task({ id: 'email-js:1', taskType: 'email-js', payload: new TextEncoder().encode(payload), attempt, maxAttempts: 3, enqueuedAtMs: 0n, deadlineMs: 0n });
const response = (status, body = '', headers = []) => ({
  status,
  body: new TextEncoder().encode(body),
  header: (name) => headers.find(([k]) => k === name)?.[1],
});

test('a valid message gets a stable message id', () => {
  const payload = '{"to":"ada@example.com","subject":"hi","body":"x"}';
  const first = prepare(task(payload));
  assert.equal(first.to, 'ada@example.com');
  assert.equal(first.retryAfterMs, 1000);
  assert.match(first.messageId, /^<[0-9a-f]{16}@wasmq\.invalid>$/);
  assert.deepEqual(first, prepare(task(payload, 2)));
});

test('bad fields are permanent and named', () => {
  for (const [payload, field] of [
    ['{"subject":"hi"}', 'field `to` is missing'],
    ['{"to":"nobody","subject":"hi"}', 'field `to` `nobody` has no `@`'],
    ['{"to":"a@b","subject":"hi"}', 'field `to`'],
    ['{"to":"a@b.c","subject":"  "}', 'field `subject` is empty'],
    ['{"to":"a@b.c","subject":"s","simulate":"x"}', 'field `simulate`'],
    ['{"to":"a@b.c","subject":"s","cc":"x"}', 'unknown field `cc`'],
  ]) {
    assert.throws(() => prepare(task(payload)), (e) => e.kind === 'permanent' && e.message.includes(field), payload);
  }
});

test('simulated failures are retryable with a delay', () => {
  assert.throws(() => prepare(task('{"to":"a@b.c","subject":"s","simulate":"transient"}', 5)),
    (e) => e.kind === 'retryable' && e.retryAfterMs === 1000);
  const payload = '{"to":"a@b.c","subject":"s","fail_attempts":2,"retry_after_ms":10}';
  for (const attempt of [1, 2]) {
    assert.throws(() => prepare(task(payload, attempt)), (e) => e.message.includes('simulated failure') && e.retryAfterMs === 10);
  }
  assert.equal(prepare(task(payload, 3)).retryAfterMs, 10);
});

test('settings name the manifest table and key', () => {
  assert.deepEqual(settings('http://x/v1', 't0ken'), { api: 'http://x/v1', token: 't0ken' });
  assert.throws(() => settings(undefined, 't'), /no `mail_api` in \[config\]/);
  assert.throws(() => settings('http://x', undefined), /\[secrets\] mail_token/);
  assert.throws(() => settings('http://x', '\t'), /is empty/);
});

test('the answer decides the attempt, and the token never shows', () => {
  assert.deepEqual(verdict(response(202, '{"id":"m-1"}'), 1000, 'tok'), { status: 202, providerId: 'm-1' });
  assert.throws(() => verdict(response(429, '', [['retry-after', '7']]), 1000, 'tok'), (e) => e.kind === 'retryable' && e.retryAfterMs === 7000);
  assert.throws(() => verdict(response(503), 250, 'tok'), (e) => e.retryAfterMs === 250);
  assert.throws(() => verdict(response(500, 'oops tok'), 1, 'tok'), (e) => e.kind === 'retryable' && !e.message.includes('tok ') && e.message.includes('<mail_token>'));
  assert.throws(() => verdict(response(401), 1, 'tok'), (e) => e.kind === 'permanent' && e.message.includes('mail_token'));
  assert.throws(() => verdict(response(422, 'bad'), 1, 'tok'), (e) => e.kind === 'permanent' && e.message.includes('rejected'));
  assert.throws(() => verdict(response(302, '', [['location', '/x']]), 1, 'tok'), /redirects are not followed/);
  assert.equal(retryAfter('99999999'), 3600 * 1000);
  assert.equal(retryAfter('-1'), undefined);
  assert.equal(transportError({ kind: 'denied', message: 'no' }, 'http://a/b', 'http://a').kind, 'permanent');
  assert.equal(transportError({ kind: 'failed', message: 'refused' }, 'http://a/b', 'http://a').kind, 'retryable');
});

test('address check and FNV reference values', () => {
  for (const good of ['a@b.co', 'first.last+tag@mail.example.org']) assert.equal(checkAddress(good), undefined, good);
  for (const bad of ['', '@b.co', 'a@', 'a@b', 'a@@b.co', 'a@b..co', 'a b@c.de', 'a@.b']) assert.ok(checkAddress(bad), bad);
  assert.equal(fnv1a64(new Uint8Array()), 'cbf29ce484222325');
  assert.equal(fnv1a64(new TextEncoder().encode('a')), 'af63dc4c8601ec8c');
});

test('the request carries the message, the token and the idempotency key', () => {
  const { headers, body } = request(message(), TOKEN);
  assert.deepEqual(JSON.parse(body), {
    to: 'ada@example.com',
    subject: 'hi "there"',
    body: 'line 1\nline 2',
    message_id: '<00000000000000ff@wasmq.invalid>',
  });
  assert.deepEqual(headers, [
    ['content-type', 'application/json'],
    ['authorization', 'Bearer tok-s3cret'],
    ['idempotency-key', '<00000000000000ff@wasmq.invalid>'],
  ]);
});

test('error bodies are cut to 200 characters on one line', () => {
  const err = (() => { try { verdict(response(400, 'é'.repeat(300)), 0, TOKEN); } catch (e) { return e; } })();
  assert.equal(err.message.split('(400): ')[1], `${'é'.repeat(200)}…`);
  assert.equal(excerpt(new TextEncoder().encode('a\r\nb\u0000'), TOKEN), 'a  b');
  assert.equal(excerpt(new TextEncoder().encode('  \n'), TOKEN), '(empty body)');
  assert.equal(excerpt(new Uint8Array([0x61, 0xff]), TOKEN), 'a\ufffd');
  // 200 characters, not 200 UTF-16 units: an emoji is one character.
  assert.equal(excerpt(new TextEncoder().encode('😀'.repeat(201)), TOKEN), `${'😀'.repeat(200)}…`);
});

test('an echoed token is blanked before the body is cut', () => {
  assert.throws(() => verdict(response(400, `bad token ${TOKEN} for Bearer ${TOKEN}`), 0, TOKEN),
    (e) => e.message.includes('bad token <mail_token> for Bearer <mail_token>'));
  // The token straddles the 200-character cut: not even a prefix shows.
  assert.throws(() => verdict(response(502, `${'x'.repeat(197)}${TOKEN}`), 0, TOKEN),
    (e) => !e.message.includes('tok'));
  assert.equal(verdict(response(200, `{"id":"${TOKEN}"}`), 0, TOKEN).providerId, '<mail_token>');
});

test('redact keeps the kind and the delay', () => {
  const permanent = redact(TaskError.permanent(`POST http://${TOKEN}@h`), TOKEN);
  assert.deepEqual([permanent.kind, permanent.message, permanent.retryAfterMs], ['permanent', 'POST http://<mail_token>@h', undefined]);
  const retry = redact(TaskError.retryable(`x ${TOKEN}`, 3000), TOKEN);
  assert.ok(retry instanceof TaskError);
  assert.deepEqual([retry.kind, retry.message, retry.retryAfterMs], ['retryable', 'x <mail_token>', 3000]);
});

test('wrongly typed fields are permanent errors naming the field, as serde refuses them', () => {
  const base = '"to":"a@b.c","subject":"s"';
  for (const [extra, needle] of [
    ['"retry_after_ms":1.5', 'field `retry_after_ms` must be a whole number of milliseconds from 0 to 18446744073709551615, not 1.5'],
    ['"retry_after_ms":-5', 'field `retry_after_ms` must be a whole number of milliseconds'],
    ['"retry_after_ms":"x"', 'field `retry_after_ms` must be a whole number of milliseconds from 0 to 18446744073709551615, not "x"'],
    ['"retry_after_ms":18446744073709551616', 'field `retry_after_ms`'],
    ['"retry_after_ms":true', 'field `retry_after_ms`'],
    ['"fail_attempts":1.5', 'field `fail_attempts` must be a whole number from 0 to 4294967295, not 1.5'],
    ['"fail_attempts":true', 'field `fail_attempts`'],
    ['"fail_attempts":"2"', 'field `fail_attempts`'],
    ['"fail_attempts":4294967296', 'field `fail_attempts`'],
    ['"body":5', 'field `body` must be a string, not 5'],
    ['"body":null', 'field `body` must be a string, not null'],
    ['"body":false', 'field `body` must be a string, not false'],
    ['"subject":["s"]', 'field `subject` must be a string'],
    ['"simulate":1', 'field `simulate` must be a string'],
  ]) {
    // The bad field last, so that it overrides the base's.
    const payload = `{${base},${extra}}`;
    assert.throws(() => prepare(task(payload)), (e) => {
      assert.equal(e.kind, 'permanent', payload);
      assert.ok(e.message.includes(needle), `${payload}: ${e.message}`);
      return true;
    });
  }
  assert.throws(() => prepare(task('{"to":5,"subject":"s"}')), /field `to` must be a string, not 5/);
  // A simulated failure with a bad delay is refused before it is played.
  assert.throws(() => prepare(task(`{${base},"simulate":"transient","retry_after_ms":1.5}`)), (e) => e.kind === 'permanent');
});

test('a zero retry_after_ms is kept, and the largest ones fit the host', () => {
  assert.throws(() => prepare(task('{"to":"a@b.c","subject":"s","simulate":"transient","retry_after_ms":0}')),
    (e) => e.kind === 'retryable' && e.retryAfterMs === 0 && e.toWit().retryAfterMs === 0n);
  assert.equal(prepare(task('{"to":"a@b.c","subject":"s","retry_after_ms":18446744073709549568}')).retryAfterMs, 18446744073709549568);
  assert.throws(() => prepare(task('{"to":"a@b.c","subject":"s","fail_attempts":4294967295}', 4294967295)),
    (e) => e.kind === 'retryable' && e.message.includes('of the first 4294967295'));
});

test('the log line counts the body in UTF-8 bytes, as sent', () => {
  const line = sentLine({ ...message(), body: 'héllo 😀' }, { status: 202, providerId: 'm-1' });
  assert.ok(line.includes('(11 body bytes)'), line);
  assert.ok(line.endsWith('(mail API answered 202, id "m-1")'), line);
});

test('a header the host refuses points at the token', () => {
  const e = transportError(new HttpError('bad-url', 'a header is not allowed: invalid-syntax'), 'http://a/b', 'http://a');
  assert.equal(e.kind, 'permanent');
  assert.ok(e.message.includes('[secrets] mail_token'), e.message);
});
