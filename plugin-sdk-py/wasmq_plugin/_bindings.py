"""The WIT bindings this component was built with, imported once, when the
plugin module is imported.

Why at import time: componentize-py runs the plugin's top level at build
time and snapshots the heap; the component has no file system to import
from later, so a binding imported lazily inside a function is not there
at run time. Their names depend on the world (`store` is the config store
in `http-handler`, `wasi_config_store` where a key-value store is also
imported), so each is looked up under the names it can have; one the
world lacks, or all of them natively, is None.
"""

import importlib
from types import ModuleType
from typing import Optional


def _first(*names: str) -> Optional[ModuleType]:
    for name in names:
        try:
            return importlib.import_module(f"wit_world.imports.{name}")
        except ImportError:
            continue
    return None


try:
    from componentize_py_types import Err
except ImportError:  # natively, for unit tests

    class Err(Exception):  # type: ignore[no-redef]
        def __init__(self, value: object):
            super().__init__(value)
            self.value = value


types = _first("wasmq_plugin_types", "types")
log = _first("log")
progress = _first("progress")
config_store = _first("wasi_config_store", "store")
http_types = _first("wasi_http_types")
outgoing_handler = _first("outgoing_handler")
kv_store = _first("wasi_keyvalue_store")
atomics = _first("atomics")


def need(module: Optional[ModuleType], interface: str, world: str) -> ModuleType:
    """`module`, or an error saying which world to build with."""
    if module is None:
        raise RuntimeError(
            f"this plugin was not built with {interface}: build it with componentize-py -w {world} "
            "(natively, in unit tests, no interface exists)"
        )
    return module
