"""`wasi:keyvalue`: the buckets of `[capabilities] kv`, scoped to the
plugin (world `full-handler`)."""

from typing import Optional

from . import _bindings


class Bucket:
    def __init__(self, raw: object):
        self._raw = raw

    def get(self, key: str) -> Optional[bytes]:
        return self._raw.get(key)

    def set(self, key: str, value: bytes | str) -> None:
        self._raw.set(key, value.encode() if isinstance(value, str) else value)

    def delete(self, key: str) -> None:
        self._raw.delete(key)

    def exists(self, key: str) -> bool:
        return self._raw.exists(key)

    def increment(self, key: str, delta: int = 1) -> int:
        atomics = _bindings.need(_bindings.atomics, "wasi:keyvalue/atomics", "full-handler")
        return atomics.increment(self._raw, key, delta)


def bucket(name: str) -> Bucket:
    """Opens the bucket `name` (granted by `[capabilities] kv`)."""
    store = _bindings.need(_bindings.kv_store, "wasi:keyvalue/store", "full-handler")
    return Bucket(store.open(name))
