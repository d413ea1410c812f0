"""Errors of the gateway lab, named by whose fault they are.

``ConfigError`` is the operator's: the TOML file is wrong, and the message names the key
(``upstream[1].balance``). ``UpstreamError`` and its subclasses are a backend's: it refused the
connection, answered with bytes that are not HTTP/1.1, or took too long; the gateway turns
them into 502 and 504 answers (or a retry on another server), never into a hang.
``ClientAborted`` is the client's: its streamed request body broke off or was malformed.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class of every error raised by ``labsupport.gateway``."""


class ConfigError(GatewayError):
    """The gateway's configuration is invalid; the message starts with the key at fault."""


class UpstreamError(GatewayError):
    """A backend failed one exchange (the backend's fault, not the client's)."""

    status_code = 502


class ConnectFailed(UpstreamError):
    """The backend refused or reset the connection, or did not accept it within the timeout."""


class PoolBusy(UpstreamError):
    """Every connection to the server stayed busy for the queue timeout: the gateway's own
    limit (``max_connections``), not a sign the server is broken (503, no ejection)."""

    status_code = 503


class UpstreamProtocolError(UpstreamError):
    """The backend's bytes are not a well-formed HTTP/1.1 response (502)."""


class UpstreamClosed(UpstreamError):
    """The backend closed the connection before a whole response head arrived (502)."""


class UpstreamTimeout(UpstreamError):
    """No response head (or no next body byte) within the read timeout (504)."""

    status_code = 504


class ClientAborted(GatewayError):
    """The client's streamed request body broke off or was malformed while it was being
    forwarded (not held against the backend; the client's connection is already closed)."""
