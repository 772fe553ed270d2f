"""`python3 -m unittest discover -s plugin-sdk-py`: the parts of the SDK
that need no component: what each `wasi:http` error code means, and a task
error as the host can take it."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))

from wasmq_plugin import TaskError, http  # noqa: E402


def code(name, value=None):
    """An error-code case as componentize-py binds it: a class per case."""
    case = type(name, (), {})()
    if value is not None:
        case.value = value
    return case


class SdkTest(unittest.TestCase):
    def test_the_hosts_denial_is_denied_and_permanent_and_transport_failures_retry(self):
        denied = http._error(code("ErrorCode_HttpRequestDenied"))
        self.assertEqual(denied.kind, "denied")
        self.assertIn("[capabilities] http", denied.message)
        self.assertIn("http_max_requests", denied.message)
        self.assertEqual(denied.to_task_error().kind, "permanent")
        self.assertEqual(http._error(code("ErrorCode_HttpRequestUriInvalid")).kind, "bad-url")
        refused = http._error(code("ErrorCode_ConnectionRefused"))
        self.assertEqual((refused.kind, refused.message), ("failed", "ConnectionRefused"))
        self.assertEqual(refused.to_task_error().kind, "retryable")
        self.assertEqual(http._error(code("ErrorCode_InternalError", "boom")).message, "InternalError: boom")

    def test_a_retry_delay_the_host_cannot_take_makes_the_error_permanent(self):
        self.assertEqual(TaskError.retryable("busy", 1500).for_host().retry_after_ms, 1500)
        for bad in (1.5, -5, "x", 2**64, True):
            clean = TaskError.retryable("busy", bad).for_host()
            self.assertEqual((clean.kind, clean.retry_after_ms), ("permanent", None), bad)
            self.assertTrue(clean.message.startswith("busy (and its retry delay"), clean.message)

    def test_origin_is_what_the_grant_takes(self):
        self.assertEqual(http.origin("http://127.0.0.1:8025/v1/messages?x=1"), "http://127.0.0.1:8025")


if __name__ == "__main__":
    unittest.main()
