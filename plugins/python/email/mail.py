"""The logic of `email-py`, free of WIT bindings so `python3 -m unittest`
checks it natively: the same rules as the Rust `email` plugin
(plugins/email/src), which this plugin mirrors message for message.

- a missing or malformed `to`, an empty `subject`, or a field of the wrong
  type (`"body": 5`, `"retry_after_ms": 1.5`: what Rust's serde refuses) is
  a permanent error naming the field;
- `"simulate": "transient"` fails every attempt, and `"fail_attempts": N`
  fails attempts 1..=N, with a retry after `retry_after_ms` (default 1000);
- the mail API's answer maps to success, a retry or a dead letter as
  `verdict` says; the token never reaches a message.
"""

import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from wasmq_plugin import TaskError

MAX_RETRY_AFTER_MS = 3600 * 1000
EXCERPT_CHARS = 200
FIELDS = {"to", "subject", "body", "simulate", "fail_attempts", "retry_after_ms"}
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MANIFEST = "email-py.toml"


@dataclass
class Message:
    to: str
    subject: str
    body: str
    message_id: str
    retry_after_ms: int


@dataclass
class Receipt:
    status: int
    provider_id: Optional[str]


def field_error(field: str, problem: str) -> TaskError:
    return TaskError.permanent(f"email payload: field `{field}` {problem}")


def check_address(address: str) -> Optional[str]:
    """Why `address` is not `local@domain.tld`, or None when it is."""
    if len(address) > 254:
        return "is longer than 254 characters"
    if any(c.isspace() for c in address) or CONTROL.search(address):
        return "contains whitespace"
    if "@" not in address:
        return "has no `@`: expected local@domain.tld"
    local, domain = address.split("@", 1)
    if not local or "@" in domain:
        return "is not of the form local@domain.tld"
    labels = domain.split(".")
    if len(labels) < 2 or any(label == "" for label in labels):
        return "has no valid domain: expected local@domain.tld"
    return None


def fnv1a64(data: bytes) -> int:
    """64-bit FNV-1a: small, dependency-free and stable across builds."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _shown(value: Any) -> str:
    """A value as a message shows it: JSON, cut short."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _optional_string(email: dict, field: str) -> Optional[str]:
    """`email[field]` if a string; None if absent or null (Rust's `Option<String>`)."""
    value = email.get(field)
    if value is not None and not isinstance(value, str):
        raise field_error(field, f"must be a string, not {_shown(value)}")
    return value


def _optional_whole(email: dict, field: str, largest: int, unit: str) -> Optional[int]:
    """`email[field]` if a whole number in 0..=`largest` (a bool is not one)."""
    value = email.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= largest:
        raise field_error(field, f"must be a whole number{unit} from 0 to {largest}, not {_shown(value)}")
    return value


@dataclass
class Fields:
    to: Optional[str]
    subject: Optional[str]
    body: str
    simulate: Optional[str]
    fail_attempts: Optional[int]
    retry_after_ms: Optional[int]


def fields(email: Any) -> Fields:
    """The payload's fields with Rust's types (serde refuses the payload on
    a wrongly typed field): strings, a u32 `fail_attempts` and a u64
    `retry_after_ms`; a wrong type is a permanent error naming the field."""
    if not isinstance(email, dict):
        raise TaskError.permanent("email payload: expected a JSON object")
    for key in email:
        if key not in FIELDS:
            raise TaskError.permanent(f"email payload: unknown field `{key}`")
    body = email.get("body", "")
    if not isinstance(body, str):
        raise field_error("body", f"must be a string, not {_shown(body)}")
    return Fields(
        to=_optional_string(email, "to"),
        subject=_optional_string(email, "subject"),
        body=body,
        simulate=_optional_string(email, "simulate"),
        fail_attempts=_optional_whole(email, "fail_attempts", U32_MAX, ""),
        retry_after_ms=_optional_whole(email, "retry_after_ms", U64_MAX, " of milliseconds"),
    )


def prepare(task) -> Message:
    """Validates the payload and plays its simulated failures."""
    email = fields(task.json())
    to = email.to
    if to is None:
        raise field_error("to", "is missing")
    why = check_address(to)
    if why:
        raise field_error("to", f"`{to}` {why}")
    subject = email.subject or ""
    if not subject.strip():
        raise field_error("subject", "is empty: every message needs a subject")
    # 0 is a delay like any other: only an absent one defaults.
    retry_after_ms = 1000 if email.retry_after_ms is None else email.retry_after_ms
    if email.simulate is not None:
        if email.simulate != "transient":
            raise field_error("simulate", f'`{email.simulate}` is unknown: use "transient"')
        raise TaskError.retryable("simulated transient failure: mail server busy", retry_after_ms)
    failures = email.fail_attempts
    if failures is not None and task.attempt <= failures:
        raise TaskError.retryable(
            f"simulated failure on attempt {task.attempt} of the first {failures}", retry_after_ms)
    return Message(to=to, subject=subject, body=email.body,
                   message_id=f"<{fnv1a64(task.payload):016x}@wasmq.invalid>", retry_after_ms=retry_after_ms)


def settings(api: Optional[str], token: Optional[str]) -> tuple[str, str]:
    """The API's URL and token, or a permanent error naming the manifest key."""
    if api is None:
        raise TaskError.permanent(
            f"email: no `mail_api` in [config] of {MANIFEST}: set it to the mail API's URL, "
            'e.g. mail_api = "https://mail.example.com/v1/messages"')
    if token is None:
        raise TaskError.permanent(
            f"email: no `mail_token` in [secrets] of {MANIFEST}: add [secrets] mail_token = "
            '"env:MAIL_TOKEN" (or "file:/path") so the host can hand over the API token')
    problem = None
    if not token.strip():
        problem = "is empty: set the variable or file it names to the API token"
    elif CONTROL.search(token):
        problem = "contains a control character (a trailing newline in its file?): remove it"
    if problem:
        raise TaskError.permanent(f"email: [secrets] mail_token in {MANIFEST} {problem}")
    return api, token


def request(message: Message, token: str) -> tuple[list, bytes]:
    """The headers and body for one message."""
    headers = [("content-type", "application/json"), ("authorization", f"Bearer {token}"),
               ("idempotency-key", message.message_id)]
    body = json.dumps({"to": message.to, "subject": message.subject, "body": message.body,
                       "message_id": message.message_id}, separators=(",", ":"), ensure_ascii=False).encode()
    return headers, body


def blank(text: str, token: str) -> str:
    """`text` with every occurrence of `token` replaced by `<mail_token>`."""
    return text.replace(token, "<mail_token>") if token else text


def redact(error: TaskError, token: str) -> TaskError:
    """`error` with the token blanked out of its message; kind and delay kept."""
    return TaskError(error.kind, blank(error.message, token), error.retry_after_ms)


def sent_line(message: Message, receipt: Receipt) -> str:
    """The log line of a sent message; the body's size in UTF-8 bytes, as sent."""
    provider = f", id {json.dumps(receipt.provider_id)}" if receipt.provider_id else ""
    return (f"sent {json.dumps(message.subject)} to {message.to} ({len(message.body.encode())} body bytes) "
            f"as {message.message_id} (mail API answered {receipt.status}{provider})")


def excerpt(body: bytes, token: str) -> str:
    text = blank(body.decode("utf-8", errors="replace"), token)
    line = CONTROL.sub(" ", text[:EXCERPT_CHARS]) + ("…" if len(text) > EXCERPT_CHARS else "")
    return line.strip() or "(empty body)"


def retry_after(value: Optional[str]) -> Optional[int]:
    """A `Retry-After` in whole seconds, as ms, capped at an hour."""
    v = (value or "").strip()
    if not v or len(v) > 19 or not v.isascii() or not v.isdigit():
        return None
    return min(int(v) * 1000, MAX_RETRY_AFTER_MS)


def verdict(response, busy_delay_ms: int, token: str) -> Receipt:
    """What the API's answer means for this attempt."""
    status = response.status
    if 200 <= status <= 299:
        provider_id = None
        try:
            found = json.loads(response.body).get("id")
            if isinstance(found, str):
                provider_id = blank(found, token)
        except (ValueError, AttributeError):
            pass
        return Receipt(status, provider_id)
    if status in (429, 503):
        asked = retry_after(response.header("retry-after"))
        delay, why = (busy_delay_ms, "(the payload's retry_after_ms)") if asked is None else \
            (asked, "as its Retry-After asked")
        raise TaskError.retryable(f"email: mail API is busy ({status}): retrying in {delay} ms {why}", delay)
    if 500 <= status <= 599:
        raise TaskError.retryable(f"email: mail API answered {status}: {excerpt(response.body, token)}")
    if status in (401, 403):
        raise TaskError.permanent(
            f"email: mail API refused the credentials ({status}): check [secrets] mail_token in {MANIFEST}")
    if 400 <= status <= 499:
        raise TaskError.permanent(f"email: mail API rejected the message ({status}): {excerpt(response.body, token)}")
    location = response.header("location")
    where = f" (location: {blank(location, token)})" if location else ""
    raise TaskError.permanent(
        f"email: mail API answered {status}{where}, not a verdict on the message: set mail_api in "
        f"[config] of {MANIFEST} to the endpoint itself (redirects are not followed)")


def transport_error(error, api: str, origin: str) -> TaskError:
    """What a failed request means: a denial is permanent and names the grant."""
    if error.kind == "denied":
        return TaskError.permanent(
            f"email: the host denied POST {api} ({error.message}): grant it in {MANIFEST} with "
            f'[capabilities] http = ["{origin}"]')
    if error.kind == "bad-url" and error.message.startswith("a header"):
        return TaskError.permanent(
            f"email: the request to {api} has a header the host refuses ({error.message}): check "
            f"[secrets] mail_token in {MANIFEST} for stray characters")
    if error.kind == "bad-url":
        return TaskError.permanent(
            f"email: mail_api `{api}` in [config] of {MANIFEST} is not a usable URL ({error.message}): "
            "set it to an http:// or https:// URL")
    return TaskError.retryable(f"email: POST {api} failed ({error.message}): will retry; check that the mail API is up")
