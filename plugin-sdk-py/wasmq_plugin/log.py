"""Structured logs, captured into the task log by the host."""


def _log(level: str, message: object) -> None:
    from wit_world.imports import log as _raw

    _raw.log(getattr(_raw.Level, level), str(message))


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
