// `node --test plugins/js/email`: the rules of mail.js, as the Rust
// plugin's unit tests check them (plugins/email/src).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Task } from '../../../plugin-sdk-js/types.js';
import { checkAddress, fnv1a64, prepare, settings, verdict, retryAfter, transportError } from './mail.js';

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
