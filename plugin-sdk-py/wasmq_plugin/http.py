"""Blocking outbound HTTP over `wasi:http/outgoing-handler`, granted by
`[capabilities] http`. The host checks each request against the grant,
caps the number of requests and the response body, and clamps timeouts to
the task's deadline."""

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from . import _bindings
from .errors import TaskError

_CHUNK = 4096


class HttpError(Exception):
    """Why a request failed: `denied` by the host, a `bad-url`, or `failed`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    def to_task_error(self) -> TaskError:
        """Denied and bad URLs are permanent; transport failures retryable."""
        if self.kind == "failed":
            return TaskError.retryable(self.message)
        return TaskError.permanent(self.message)


@dataclass
class Response:
    status: int
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        """The first header called `name`, any case."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def origin(url: str) -> str:
    """`scheme://host[:port]`, the form `[capabilities] http` takes."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


def send(method: str, url: str, headers: Sequence[Tuple[str, str]] = (), body: Optional[bytes] = None) -> Response:
    """Sends a request and reads the whole answer."""
    Err = _bindings.Err
    outgoing_handler = _bindings.need(_bindings.outgoing_handler, "wasi:http/outgoing-handler", "http-handler")
    t = _bindings.need(_bindings.http_types, "wasi:http/types", "http-handler")

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HttpError("bad-url", f"`{url}` is not an http:// or https:// URL")
    methods = {"GET": t.Method_Get, "HEAD": t.Method_Head, "POST": t.Method_Post, "PUT": t.Method_Put,
               "DELETE": t.Method_Delete, "PATCH": t.Method_Patch, "OPTIONS": t.Method_Options}
    pairs = [(str(k).lower(), str(v).encode()) for k, v in headers]
    # A known length, so servers that refuse chunked uploads take the body.
    if body is not None and not any(k == "content-length" for k, _ in pairs):
        pairs.append(("content-length", str(len(body)).encode()))
    try:
        fields = t.Fields.from_list(pairs)
    except Err as e:
        raise HttpError("bad-url", f"a header is not allowed: {type(e.value).__name__}") from None
    request = t.OutgoingRequest(fields)
    verb = methods.get(method.upper())
    request.set_method(verb() if verb else t.Method_Other(method))
    request.set_scheme(t.Scheme_Https() if parts.scheme == "https" else t.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    outgoing = request.body()
    try:
        future = outgoing_handler.handle(request, None)
    except Err as e:
        raise _error(e.value) from None
    # The body is written after handing the request over, and finished, so
    # the host can stream it.
    try:
        with outgoing.write() as stream:
            data = body or b""
            for start in range(0, len(data), _CHUNK):
                stream.blocking_write_and_flush(data[start:start + _CHUNK])
        t.OutgoingBody.finish(outgoing, None)
    except Err:
        # The host stopped reading the body: the response says why.
        pass
    with future:
        future.subscribe().block()
        answer = future.get()
    if answer is None or isinstance(answer, Err):
        raise HttpError("failed", "the response was lost")
    inner = answer.value
    if isinstance(inner, Err):
        raise _error(inner.value)
    response = inner.value
    status = response.status()
    with response.headers() as fields:
        pairs = [(k.lower(), v.decode("utf-8", errors="replace")) for k, v in fields.entries()]
    incoming = response.consume()
    chunks = []
    with incoming.stream() as stream:
        while True:
            try:
                chunk = stream.blocking_read(65536)
            except Err as e:
                if type(e.value).__name__ == "StreamError_Closed":
                    break
                raise HttpError("failed", f"reading the body failed: {e.value}") from None
            chunks.append(chunk)
    return Response(status=status, headers=pairs, body=b"".join(chunks))


def get(url: str, headers: Sequence[Tuple[str, str]] = ()) -> Response:
    return send("GET", url, headers)


DENIED = ("the URL is not granted by [capabilities] http, or the run sent http_max_requests "
          "already (see the task log)")


def _error(code: object) -> HttpError:
    """What a `wasi:http` error code means: the host's denial (not granted,
    or over `http_max_requests`) is `denied`, a refused URI `bad-url`,
    anything else `failed`."""
    name = type(code).__name__
    if name == "ErrorCode_HttpRequestDenied":
        return HttpError("denied", DENIED)
    if name == "ErrorCode_HttpRequestUriInvalid":
        return HttpError("bad-url", "the host refused the URL")
    detail = getattr(code, "value", None)
    return HttpError("failed", name.removeprefix("ErrorCode_") + (f": {detail}" if detail else ""))
