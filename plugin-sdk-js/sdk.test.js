// `node --test plugin-sdk-js`: the parts of the SDK that need no component:
// what each `wasi:http` error code means, the request's URL parts and
// method, and a task error's WIT record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, methodOf, origin, target } from './http_parts.js';
import { TaskError } from './types.js';

test("the host's denial is `denied` and permanent; transport failures retry", () => {
  const denied = errorOf({ tag: 'HTTP-request-denied' });
  assert.equal(denied.kind, 'denied');
  assert.match(denied.message, /\[capabilities\] http.*http_max_requests/);
  assert.equal(denied.toTaskError().kind, 'permanent');
  assert.equal(errorOf({ tag: 'HTTP-request-URI-invalid' }).kind, 'bad-url');
  const refused = errorOf({ tag: 'connection-refused' });
  assert.deepEqual([refused.kind, refused.message], ['failed', 'connection-refused']);
  assert.equal(refused.toTaskError().kind, 'retryable');
  const dns = errorOf({ tag: 'DNS-error', val: { rcode: 'NXDOMAIN', infoCode: 3 } });
  assert.equal(dns.message, 'DNS-error: {"rcode":"NXDOMAIN","infoCode":3}');
  assert.equal(errorOf({ tag: 'HTTP-response-body-size', val: 10n }).message, 'HTTP-response-body-size: 10');
});

test('URLs: http and https only, split as wasi:http takes them', () => {
  assert.deepEqual(target('http://127.0.0.1:8025/v1/messages?x=1'), {
    scheme: 'HTTP', authority: '127.0.0.1:8025', pathWithQuery: '/v1/messages?x=1',
  });
  assert.deepEqual(target('https://Mail.Example.com'), { scheme: 'HTTPS', authority: 'mail.example.com', pathWithQuery: '/' });
  for (const bad of ['mail.example', 'ftp://x/y', 'file:///etc/passwd', 'http://u:p@x/']) {
    assert.throws(() => target(bad), (e) => e.kind === 'bad-url', bad);
  }
  assert.equal(origin('http://127.0.0.1:8025/v1/messages'), 'http://127.0.0.1:8025');
  assert.deepEqual(methodOf('post'), { tag: 'post' });
  assert.deepEqual(methodOf('PROPFIND'), { tag: 'other', val: 'PROPFIND' });
});

test('a retry delay the host cannot take makes the error permanent instead of trapping', () => {
  assert.deepEqual(TaskError.retryable('busy', 1500).toWit(), { kind: 'retryable', message: 'busy', retryAfterMs: 1500n });
  assert.equal(TaskError.retryable('busy').toWit().retryAfterMs, undefined);
  for (const bad of [1.5, -5, 'x', 2 ** 64, NaN, 2n ** 64n]) {
    const wit = TaskError.retryable('busy', bad).toWit();
    assert.equal(wit.kind, 'permanent', String(bad));
    assert.match(wit.message, /^busy \(and its retry delay .* is not a whole number of milliseconds/);
  }
});
