"""wasmq_plugin: a thin layer over the `wasmq:plugin` WIT for handlers
written in Python and built with componentize-py (see ../README.md).

Why a layer: the raw bindings want `Err(TaskError(ErrorKind.PERMANENT,
...))`, byte strings and resource handles; a handler wants `task.json()`,
`Output.json(...)` and `raise TaskError.retryable(...)`.

The bindings (`wit_world`) exist only inside the component, and their
module names depend on the world, so everything that touches them imports
them when called: this package imports natively, and a plugin's own logic
can be unit-tested with plain `python3 -m unittest`.
"""

import traceback as _traceback
from typing import Any, Callable

from .errors import Output, Task, TaskError
from . import config, http, kv, log

__all__ = ["Output", "Task", "TaskError", "config", "handler", "http", "kv", "log", "progress"]


def _types():
    """The `wasmq:plugin/types` bindings, under the name this world gave them."""
    try:
        from wit_world.imports import wasmq_plugin_types as types
    except ImportError:
        from wit_world.imports import types
    return types


def progress(percent: float, note: str = "") -> None:
    """Reports progress; `percent` is clamped to 0..=100."""
    from wit_world.imports import progress as _progress

    _progress.report(max(0, min(100, round(percent))), str(note))


def handler(fn: Callable[[Task], Any]) -> type:
    """Wraps `fn(task) -> Output | value` as the class componentize-py
    exports: `Handler = wasmq_plugin.handler(my_function)`.

    A returned `Output` is the result; any other value is sent as JSON. A
    raised `TaskError` is the task's error; any other exception is logged
    with its traceback and becomes a permanent error (retrying a bug does
    not fix it).
    """

    class Handler:
        def handle(self, raw: Any) -> Any:
            from componentize_py_types import Err

            types = _types()
            try:
                result = fn(Task(raw))
                output = result if isinstance(result, Output) else Output.json(result)
                return types.Output(data=output.data, content_type=output.content_type)
            except TaskError as e:
                error = e
            except Exception as e:  # noqa: BLE001 - a handler's bug ends its task
                log.error("uncaught exception: " + "".join(_traceback.format_exception(e)))
                error = TaskError.permanent(f"uncaught exception: {e!r}")
            kind = types.ErrorKind.RETRYABLE if error.kind == "retryable" else types.ErrorKind.PERMANENT
            raise Err(types.TaskError(kind=kind, message=error.message, retry_after_ms=error.retry_after_ms))

    return Handler

