"""Your solutions to notebook 01's exercises. Check them with `python -m labsupport check 01`."""

from labsupport.http import BadRequest, Response  # noqa: F401  (what a solution raises and returns)


def parse_content_length(value):
    """01.1: the length a Content-Length field value means, when it is not plain digits.

    `value` is the field's bytes with the surrounding spaces removed (b"5, 5", b"-5", b"").
    RFC 9110 section 8.6 lets a server accept a list of identical decimal lengths ("5, 5" is 5);
    anything else must be refused with `raise BadRequest("...")` (the server answers 400 and
    closes the connection). The check plugs it in as `RequestParser(content_length=...)`.
    """
    return int(value)  # a first try: Python's int() is not HTTP's grammar


def request_id():
    """01.2: a middleware factory. Each call returns a new middleware `mw(request, call_next)`
    that adds `x-request-id: N` (N = 1, 2, 3 ... per middleware) to every response. `call_next`
    may return a Response or a coroutine (async handler): keep a plain Response plain, so the
    server still answers plain handlers without creating a Task."""

    def mw(request, call_next):
        return call_next(request)  # passes everything through: no id yet

    return mw


def byteranges(data, range_value, content_type, boundary):
    """01.3: the multipart/byteranges body (RFC 9110 section 14.6) answering `range_value`
    (e.g. b"bytes=0-1,5-6", b"bytes=-3,190-") for the file whose bytes are `data`, or None to
    send the whole file instead (when the unit is not bytes, or any range is invalid or starts
    past the end). Each part: `--boundary`, CRLF, `Content-Type: <content_type>`, CRLF,
    `Content-Range: bytes FIRST-LAST/SIZE`, CRLF, CRLF, the bytes, CRLF; after the last part,
    `--boundary--` and CRLF. Parts in the order asked. The check plugs it in as
    `StaticFiles(root, multi_range=...)`."""
    return None  # the whole file, as the server does without this hook


def encode_response(response, keep_alive, head_only, date_line, http10_keep_alive):
    """01.4: the bytes of `response` (a labsupport.http.Response: .status, .body, .content_type,
    .headers), as fast as you can make them. `date_line` holds the Server and Date fields, ready
    to paste. The rules: Content-Length always, except on 1xx and 204 (and 304 carries none of
    its own); no body on HEAD (`head_only`), 1xx, 204 and 304; `connection: close` when not
    `keep_alive`; `connection: keep-alive` when `http10_keep_alive`. The check plugs it in as
    `HttpConnection(encode=...)` and compares what a client receives with `Response.encode`."""
    body = response.body
    return (b"HTTP/1.1 %d OK\r\n" % response.status + date_line
            + b"content-type: " + response.content_type + b"\r\n"
            + b"content-length: %d\r\n\r\n" % len(body) + body)  # right for a 200 only
