"""`wasi:keyvalue`: the buckets of `[capabilities] kv`, scoped to the
plugin (world `full-handler`)."""

from typing import Optional


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
        from wit_world.imports import atomics

        return atomics.increment(self._raw, key, delta)


def bucket(name: str) -> Bucket:
    """Opens the bucket `name` (granted by `[capabilities] kv`)."""
    from wit_world.imports import wasi_keyvalue_store as store

    return Bucket(store.open(name))
