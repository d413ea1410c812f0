"""Lab 01: an HTTP/1.1 server from scratch on asyncio, with an ASGI adapter.

Sans-IO core (``parser``, ``response``, ``connection``), asyncio shell (``server``), what
sits on top (``routing``, ``middleware``, ``static``, ``asgi``), and the response reader the
tests and the notebook use (``client``). ``app.demo_app`` is what the command
line serves; ``bench`` compares it with uvicorn, FastAPI, Flask and aiohttp.
"""

from .asgi import ASGIAdapter, Lifespan
from .client import RawClient, RawResponse, ResponseReader
from .connection import CloseConnection, HttpConnection
from .errors import (
    BadRequest,
    ContentTooLarge,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    HttpError,
    IncompleteMessage,
    LocalProtocolError,
    MethodNotImplemented,
    ProtocolError,
    UriTooLong,
    VersionNotSupported,
)
from .middleware import access_log, catch_errors, chain, gzip
from .parser import NEED_DATA, ConnectionClosed, Data, EndOfMessage, Limits, Request, RequestParser
from .response import DateHeader, Response, StreamingResponse, error_response, serialize_response
from .routing import HttpRequest, Router
from .server import HttpServer, install_uvloop, run
from .static import FileResponse, StaticFiles

__all__ = [
    "NEED_DATA", "ASGIAdapter", "BadRequest", "CloseConnection", "ConnectionClosed",
    "ContentTooLarge", "Data", "HttpConnection", "RawClient", "RawResponse", "ResponseReader",
    "DateHeader", "EndOfMessage", "ExpectationFailed", "FileResponse", "HeaderFieldsTooLarge",
    "HttpError", "HttpRequest", "HttpServer", "IncompleteMessage", "Lifespan", "Limits",
    "LocalProtocolError", "MethodNotImplemented", "ProtocolError", "Request", "RequestParser",
    "Response", "Router", "StaticFiles", "StreamingResponse", "UriTooLong", "VersionNotSupported",
    "access_log", "catch_errors", "chain", "error_response", "gzip", "install_uvloop", "run",
    "serialize_response",
]
