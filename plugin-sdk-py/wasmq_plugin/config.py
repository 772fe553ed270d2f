"""`wasi:config/store`: the plugin's `[config]` and `[secrets]`, granted by
its manifest (worlds `http-handler` and `full-handler`)."""

from typing import Optional

from .errors import TaskError


def _store():
    try:
        from wit_world.imports import wasi_config_store as store
    except ImportError:
        from wit_world.imports import store
    return store


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
