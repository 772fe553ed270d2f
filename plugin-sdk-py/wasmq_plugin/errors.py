"""The values a handler works with: its task, its output, its error.
Free of WIT bindings, so a plugin's logic is testable natively."""

import json
from typing import Any, List, Optional


class TaskError(Exception):
    """A failed run: retryable (with an optional delay) or permanent."""

    def __init__(self, kind: str, message: str, retry_after_ms: Optional[int] = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_ms = retry_after_ms

    @classmethod
    def retryable(cls, message: str, retry_after_ms: Optional[int] = None) -> "TaskError":
        return cls("retryable", message, retry_after_ms)

    @classmethod
    def permanent(cls, message: str) -> "TaskError":
        return cls("permanent", message, None)

    def for_host(self) -> "TaskError":
        """This error as the host can take it: a retry delay that is not a
        whole number of milliseconds in 0..2^64 would trap the component
        when lowered, so it makes the error permanent instead, saying so."""
        delay = self.retry_after_ms
        if delay is None or (isinstance(delay, int) and not isinstance(delay, bool) and 0 <= delay < 2**64):
            return self
        return TaskError.permanent(
            f"{self.message} (and its retry delay {delay!r} is not a whole number of milliseconds "
            "from 0 to 18446744073709551615, so it is not retried)")

    def __repr__(self) -> str:
        return f"TaskError({self.kind!r}, {self.message!r}, {self.retry_after_ms!r})"


class Output:
    """A successful result: bytes and an optional content type."""

    def __init__(self, data: bytes, content_type: Optional[str] = None):
        self.data = data
        self.content_type = content_type

    @classmethod
    def json(cls, value: Any) -> "Output":
        return cls(json.dumps(value, separators=(",", ":")).encode(), "application/json")

    @classmethod
    def text(cls, text: str) -> "Output":
        return cls(text.encode(), "text/plain; charset=utf-8")


class Task:
    """The task as the handler sees it, with `text()` and `json()`."""

    def __init__(self, raw: Any):
        self.id: str = raw.id
        self.task_type: str = raw.task_type
        self.payload: bytes = bytes(raw.payload)
        self.attempt: int = raw.attempt
        self.max_attempts: int = raw.max_attempts
        self.enqueued_at_ms: int = raw.enqueued_at_ms
        self.deadline_ms: int = raw.deadline_ms
        self.children: List[Any] = list(getattr(raw, "children", []))

    @classmethod
    def new(cls, task_type: str, payload: str, attempt: int = 1) -> "Task":
        """A task for unit tests."""
        from types import SimpleNamespace

        return cls(SimpleNamespace(id=f"{task_type}:test", task_type=task_type, payload=payload.encode(),
                                   attempt=attempt, max_attempts=3, enqueued_at_ms=0, deadline_ms=0))

    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The payload as JSON; malformed JSON is a permanent error."""
        try:
            return json.loads(self.payload)
        except ValueError as e:
            raise TaskError.permanent(f"payload is not valid JSON: {e}") from None
