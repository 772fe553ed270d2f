"""`wasi:config/store`: the plugin's `[config]` and `[secrets]`, granted by
its manifest (worlds `http-handler` and `full-handler`)."""

from typing import Optional

from . import _bindings
from .errors import TaskError


def _store():
    return _bindings.need(_bindings.config_store, "wasi:config/store", "http-handler")


def get(key: str) -> Optional[str]:
    """The `[config]` (or `[secrets]`) value `key`, or None."""
    return _store().get(key)


def secret(key: str) -> str:
    """The secret `key`; a permanent error naming the key if it is missing.
    Never log it."""
    value = _store().get(key)
    if value is None:
        raise TaskError.permanent(f"no secret `{key}`: add it to [secrets] in the plugin's manifest")
    return value
