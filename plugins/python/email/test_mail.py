"""`python3 -m unittest discover plugins/python/email`: the rules of
mail.py, as the Rust plugin's unit tests check them."""

import json
import os
import sys
import unittest
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugin-sdk-py"))
sys.path.insert(0, os.path.dirname(__file__))

import mail  # noqa: E402
from wasmq_plugin import Task, TaskError  # noqa: E402


TOKEN = "tok-s3cret"


def message(**changes):
    fields = dict(to="ada@example.com", subject='hi "there"', body="line 1\nline 2",
                  message_id="<00000000000000ff@wasmq.invalid>", retry_after_ms=1500)
    fields.update(changes)
    return mail.Message(**fields)


def response(status, body=b"", headers=()):
    return SimpleNamespace(status=status, body=body, header=lambda n: dict(headers).get(n))


class MailTest(unittest.TestCase):
    def test_a_valid_message_gets_a_stable_message_id(self):
        payload = '{"to":"ada@example.com","subject":"hi","body":"x"}'
        first = mail.prepare(Task.new("email-py", payload))
        self.assertEqual(first.to, "ada@example.com")
        self.assertEqual(first.retry_after_ms, 1000)
        self.assertRegex(first.message_id, r"^<[0-9a-f]{16}@wasmq\.invalid>$")
        self.assertEqual(first, mail.prepare(Task.new("email-py", payload, attempt=2)))

    def test_bad_fields_are_permanent_and_named(self):
        for payload, field in [
            ('{"subject":"hi"}', "field `to` is missing"),
            ('{"to":"nobody","subject":"hi"}', "field `to` `nobody` has no `@`"),
            ('{"to":"a@b","subject":"hi"}', "field `to`"),
            ('{"to":"a@b.c","subject":"  "}', "field `subject` is empty"),
            ('{"to":"a@b.c","subject":"s","simulate":"x"}', "field `simulate`"),
            ('{"to":"a@b.c","subject":"s","cc":"x"}', "unknown field `cc`"),
        ]:
            with self.assertRaises(TaskError, msg=payload) as raised:
                mail.prepare(Task.new("email-py", payload))
            self.assertEqual(raised.exception.kind, "permanent")
            self.assertIn(field, raised.exception.message)

    def test_simulated_failures_are_retryable_with_a_delay(self):
        with self.assertRaises(TaskError) as raised:
            mail.prepare(Task.new("email-py", '{"to":"a@b.c","subject":"s","simulate":"transient"}', 5))
        self.assertEqual((raised.exception.kind, raised.exception.retry_after_ms), ("retryable", 1000))
        payload = '{"to":"a@b.c","subject":"s","fail_attempts":2,"retry_after_ms":10}'
        for attempt in (1, 2):
            with self.assertRaises(TaskError) as raised:
                mail.prepare(Task.new("email-py", payload, attempt))
            self.assertIn("simulated failure", raised.exception.message)
            self.assertEqual(raised.exception.retry_after_ms, 10)
        self.assertEqual(mail.prepare(Task.new("email-py", payload, 3)).retry_after_ms, 10)

    def test_settings_name_the_manifest_table_and_key(self):
        self.assertEqual(mail.settings("http://x/v1", "t0ken"), ("http://x/v1", "t0ken"))
        for api, token, text in [(None, "t", "no `mail_api` in [config]"), ("http://x", None, "[secrets] mail_token"),
                                 ("http://x", "\t", "is empty")]:
            with self.assertRaises(TaskError) as raised:
                mail.settings(api, token)
            self.assertIn(text, raised.exception.message)

    def test_the_answer_decides_the_attempt_and_the_token_never_shows(self):
        self.assertEqual(mail.verdict(response(202, b'{"id":"m-1"}'), 1000, "tok"), mail.Receipt(202, "m-1"))
        cases = [
            (response(429, headers=[("retry-after", "7")]), "retryable", 7000),
            (response(503), "retryable", 250),
            (response(500, b"oops tok"), "retryable", None),
            (response(401), "permanent", None),
            (response(422, b"bad"), "permanent", None),
            (response(302, headers=[("location", "/x")]), "permanent", None),
        ]
        for answer, kind, delay in cases:
            with self.assertRaises(TaskError) as raised:
                mail.verdict(answer, 250, "tok")
            self.assertEqual((raised.exception.kind, raised.exception.retry_after_ms), (kind, delay))
            self.assertNotIn("tok ", raised.exception.message)
        self.assertEqual(mail.retry_after("99999999"), 3600 * 1000)
        self.assertIsNone(mail.retry_after("-1"))
        denied = SimpleNamespace(kind="denied", message="no")
        self.assertEqual(mail.transport_error(denied, "http://a/b", "http://a").kind, "permanent")
        failed = SimpleNamespace(kind="failed", message="refused")
        self.assertEqual(mail.transport_error(failed, "http://a/b", "http://a").kind, "retryable")

    def test_address_check_and_fnv_reference_values(self):
        for good in ["a@b.co", "first.last+tag@mail.example.org"]:
            self.assertIsNone(mail.check_address(good), good)
        for bad in ["", "@b.co", "a@", "a@b", "a@@b.co", "a@b..co", "a b@c.de", "a@.b"]:
            self.assertIsNotNone(mail.check_address(bad), bad)
        self.assertEqual(mail.fnv1a64(b""), 0xCBF29CE484222325)
        self.assertEqual(mail.fnv1a64(b"a"), 0xAF63DC4C8601EC8C)

    def test_the_request_carries_the_message_the_token_and_the_idempotency_key(self):
        headers, body = mail.request(message(), TOKEN)
        self.assertEqual(json.loads(body), {"to": "ada@example.com", "subject": 'hi "there"',
                                            "body": "line 1\nline 2",
                                            "message_id": "<00000000000000ff@wasmq.invalid>"})
        self.assertEqual(headers, [("content-type", "application/json"), ("authorization", "Bearer tok-s3cret"),
                                   ("idempotency-key", "<00000000000000ff@wasmq.invalid>")])

    def test_error_bodies_are_cut_to_200_characters_on_one_line(self):
        with self.assertRaises(TaskError) as raised:
            mail.verdict(response(400, ("é" * 300).encode()), 0, TOKEN)
        self.assertEqual(raised.exception.message.split("(400): ")[1], "é" * 200 + "…")
        self.assertEqual(mail.excerpt(b"a\r\nb\x00", TOKEN), "a  b")
        self.assertEqual(mail.excerpt(b"  \n", TOKEN), "(empty body)")
        self.assertEqual(mail.excerpt(b"a\xff", TOKEN), "a\ufffd")

    def test_an_echoed_token_is_blanked_before_the_body_is_cut(self):
        with self.assertRaises(TaskError) as raised:
            mail.verdict(response(400, f"bad token {TOKEN} for Bearer {TOKEN}".encode()), 0, TOKEN)
        self.assertIn("bad token <mail_token> for Bearer <mail_token>", raised.exception.message)
        # The token straddles the 200-character cut: not even a prefix shows.
        with self.assertRaises(TaskError) as raised:
            mail.verdict(response(502, ("x" * 197 + TOKEN).encode()), 0, TOKEN)
        self.assertNotIn("tok", raised.exception.message)
        receipt = mail.verdict(response(200, f'{{"id":"{TOKEN}"}}'.encode()), 0, TOKEN)
        self.assertEqual(receipt.provider_id, "<mail_token>")

    def test_redact_keeps_the_kind_and_the_delay(self):
        permanent = mail.redact(TaskError.permanent(f"POST http://{TOKEN}@h"), TOKEN)
        self.assertEqual((permanent.kind, permanent.message, permanent.retry_after_ms),
                         ("permanent", "POST http://<mail_token>@h", None))
        retry = mail.redact(TaskError.retryable(f"x {TOKEN}", 3000), TOKEN)
        self.assertEqual((retry.kind, retry.message, retry.retry_after_ms), ("retryable", "x <mail_token>", 3000))

    def test_wrongly_typed_fields_are_permanent_errors_naming_the_field(self):
        base = '"to":"a@b.c","subject":"s"'
        for extra, needle in [
            ('"retry_after_ms":1.5', "field `retry_after_ms` must be a whole number of milliseconds from 0 to "
                                     "18446744073709551615, not 1.5"),
            ('"retry_after_ms":-5', "field `retry_after_ms` must be a whole number of milliseconds"),
            ('"retry_after_ms":"x"', 'field `retry_after_ms` must be a whole number of milliseconds from 0 to '
                                     '18446744073709551615, not "x"'),
            ('"retry_after_ms":18446744073709551616', "field `retry_after_ms`"),
            ('"retry_after_ms":true', "field `retry_after_ms`"),
            ('"fail_attempts":1.5', "field `fail_attempts` must be a whole number from 0 to 4294967295, not 1.5"),
            ('"fail_attempts":true', "field `fail_attempts`"),
            ('"fail_attempts":"2"', "field `fail_attempts`"),
            ('"fail_attempts":4294967296', "field `fail_attempts`"),
            ('"body":5', "field `body` must be a string, not 5"),
            ('"body":null', "field `body` must be a string, not null"),
            ('"body":false', "field `body` must be a string, not false"),
            ('"subject":["s"]', "field `subject` must be a string"),
            ('"simulate":1', "field `simulate` must be a string"),
        ]:
            payload = "{" + base + "," + extra + "}"
            with self.assertRaises(TaskError, msg=payload) as raised:
                mail.prepare(Task.new("email-py", payload))
            self.assertEqual(raised.exception.kind, "permanent", payload)
            self.assertIn(needle, raised.exception.message, payload)
        with self.assertRaises(TaskError) as raised:
            mail.prepare(Task.new("email-py", '{"to":5,"subject":"s"}'))
        self.assertIn("field `to` must be a string, not 5", raised.exception.message)
        # A simulated failure with a bad delay is refused before it is played.
        with self.assertRaises(TaskError) as raised:
            mail.prepare(Task.new("email-py", "{" + base + ',"simulate":"transient","retry_after_ms":1.5}'))
        self.assertEqual(raised.exception.kind, "permanent")

    def test_a_zero_retry_after_ms_is_kept_and_the_largest_ones_fit_the_host(self):
        with self.assertRaises(TaskError) as raised:
            mail.prepare(Task.new("email-py", '{"to":"a@b.c","subject":"s","simulate":"transient","retry_after_ms":0}'))
        self.assertEqual((raised.exception.kind, raised.exception.retry_after_ms), ("retryable", 0))
        largest = mail.prepare(Task.new("email-py", '{"to":"a@b.c","subject":"s","retry_after_ms":18446744073709551615}'))
        self.assertEqual(largest.retry_after_ms, 2**64 - 1)
        # And the SDK never hands the host a delay it cannot take.
        self.assertIs(TaskError.retryable("busy", 2**64 - 1).for_host().kind, "retryable")
        for bad in (1.5, -5, "x", 2**64, True):
            clean = TaskError.retryable("busy", bad).for_host()
            self.assertEqual((clean.kind, clean.retry_after_ms), ("permanent", None), bad)
            self.assertIn("is not a whole number of milliseconds", clean.message)

    def test_the_log_line_counts_the_body_in_utf8_bytes_as_sent(self):
        line = mail.sent_line(message(body="héllo 😀"), mail.Receipt(202, "m-1"))
        self.assertIn("(11 body bytes)", line)
        self.assertTrue(line.endswith('(mail API answered 202, id "m-1")'), line)

    def test_a_header_the_host_refuses_points_at_the_token(self):
        refused = SimpleNamespace(kind="bad-url", message="a header is not allowed: HeaderError_InvalidSyntax")
        error = mail.transport_error(refused, "http://a/b", "http://a")
        self.assertEqual(error.kind, "permanent")
        self.assertIn("[secrets] mail_token", error.message)


if __name__ == "__main__":
    unittest.main()
