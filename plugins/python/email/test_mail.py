"""`python3 -m unittest discover plugins/python/email`: the rules of
mail.py, as the Rust plugin's unit tests check them."""

import os
import sys
import unittest
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugin-sdk-py"))
sys.path.insert(0, os.path.dirname(__file__))

import mail  # noqa: E402
from wasmq_plugin import Task, TaskError  # noqa: E402


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


if __name__ == "__main__":
    unittest.main()
