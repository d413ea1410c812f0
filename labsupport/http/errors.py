"""Errors of the HTTP lab, named by whose fault they are (after h11's local/remote split).

``ProtocolError`` and its subclasses mean *the peer* sent something the server refuses. Each
carries the status code the server answers with (RFC 9110 section 15) and a message that says
what was wrong and where (line number, field name, offset). After any of them the connection
is closed: once framing is in doubt, nothing more on that connection can be trusted
(RFC 9112 section 11.2, request smuggling).

``LocalProtocolError`` means *our* code misused the serializer (a body on a 304, a status
code out of range). It is a bug in the application, never the client's fault.
"""

from __future__ import annotations


class HttpError(Exception):
    """Base class of every error raised by ``labsupport.http``."""


class ProtocolError(HttpError):
    """The client broke HTTP/1.1; the server answers ``status_code`` and closes."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code


class BadRequest(ProtocolError):
    """Malformed request line, header field, chunk framing or an ambiguous length (400)."""

    status_code = 400


class IncompleteMessage(BadRequest):
    """The client closed the connection in the middle of a request."""


class UriTooLong(ProtocolError):
    """The request-target is longer than ``Limits.max_target_bytes`` (414)."""

    status_code = 414


class HeaderFieldsTooLarge(ProtocolError):
    """The head (or the trailer section) is over the byte or field-count limit (431)."""

    status_code = 431


class ContentTooLarge(ProtocolError):
    """The body is over ``Limits.max_body_bytes``; raised before the body is read (413)."""

    status_code = 413


class MethodNotImplemented(ProtocolError):
    """A syntactically valid method or transfer coding this server does not implement (501)."""

    status_code = 501


class VersionNotSupported(ProtocolError):
    """An HTTP version other than 1.0 and 1.1 (505)."""

    status_code = 505


class ExpectationFailed(ProtocolError):
    """An ``Expect`` value other than ``100-continue`` (417)."""

    status_code = 417


class LocalProtocolError(HttpError):
    """The application asked the serializer for something HTTP forbids (our bug)."""


class AppLoadError(HttpError):
    """The command line's ``--app MODULE:ATTR`` names a module or attribute that does not exist."""
