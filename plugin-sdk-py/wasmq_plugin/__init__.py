"""wasmq_plugin: a thin layer over the `wasmq:plugin` WIT for handlers
written in Python and built with componentize-py (see ../README.md).

Why a layer: the raw bindings want `Err(TaskError(ErrorKind.PERMANENT,
...))`, byte strings and resource handles; a handler wants `task.json()`,
`Output.json(...)` and `raise TaskError.retryable(...)`.

The bindings (`wit_world`) exist only inside the component; `_bindings`
imports what the world has at build time and None otherwise, so this
package also imports natively, and a plugin's own logic can be unit-tested
with plain `python3 -m unittest`.
"""

import traceback as _traceback
from typing import Any, Callable

from .errors import Output, Task, TaskError
from . import _bindings, config, http, kv, log

__all__ = ["Output", "Task", "TaskError", "config", "handler", "http", "kv", "log", "progress"]


def progress(percent: float, note: str = "") -> None:
    """Reports progress; `percent` is clamped to 0..=100."""
    _bindings.need(_bindings.progress, "wasmq:plugin/progress", "task-handler").report(max(0, min(100, round(percent))), str(note))


def handler(fn: Callable[[Task], Any]) -> type:
    """Wraps `fn(task) -> Output | value` as the class componentize-py
    exports: `Handler = wasmq_plugin.handler(my_function)`.

    A returned `Output` is the result; any other value is sent as JSON. A
    raised `TaskError` is the task's error, and an uncaught `HttpError`
    becomes one (`denied` and `bad-url` permanent, `failed` retryable); any
    other exception is logged
    with its traceback and becomes a permanent error (retrying a bug does
    not fix it).
    """

    class Handler:
        def handle(self, raw: Any) -> Any:
            types = _bindings.need(_bindings.types, "wasmq:plugin/types", "task-handler")
            try:
                result = fn(Task(raw))
                output = result if isinstance(result, Output) else Output.json(result)
                return types.Output(data=output.data, content_type=output.content_type)
            except TaskError as e:
                error = e
            except http.HttpError as e:
                error = e.to_task_error()
            except Exception as e:  # noqa: BLE001 - a handler's bug ends its task
                log.error("uncaught exception: " + "".join(_traceback.format_exception(e)))
                error = TaskError.permanent(f"uncaught exception: {e!r}")
            error = error.for_host()
            kind = types.ErrorKind.RETRYABLE if error.kind == "retryable" else types.ErrorKind.PERMANENT
            raise _bindings.Err(types.TaskError(kind=kind, message=error.message, retry_after_ms=error.retry_after_ms))

    return Handler

