"""Structured logs, captured into the task log by the host."""

from . import _bindings


def _log(level: str, message: object) -> None:
    raw = _bindings.need(_bindings.log, "wasmq:plugin/log", "task-handler")
    raw.log(getattr(raw.Level, level), str(message))


def trace(message: object) -> None:
    _log("TRACE", message)


def debug(message: object) -> None:
    _log("DEBUG", message)


def info(message: object) -> None:
    _log("INFO", message)


def warn(message: object) -> None:
    _log("WARN", message)


def error(message: object) -> None:
    _log("ERROR", message)
