"""The peers of the comparison, as small apps serving the same two routes as ours.

``GET /hello`` answers ``Hello, World!`` as text; ``GET /static/<file>`` serves a file of the
root directory with each framework's own static-file support. Run one with
``python -m labsupport.http.peers flask|aiohttp --port P --root DIR``. uvicorn needs no code
here: it serves ``labsupport.http.app:asgi_hello`` and ``labsupport.http.fastapi_app:app``.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

from .. import cli


def run_flask(host: str, port: int, root: str) -> None:
    """Flask on its own (werkzeug, threaded) development server, request logging off."""
    from flask import Flask, Response, send_from_directory

    app = Flask(__name__, static_folder=None)  # our /static/ route, not Flask's built-in one
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    @app.get("/hello")
    def hello() -> Response:
        return Response("Hello, World!", mimetype="text/plain")

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Response:
        return send_from_directory(root, name)

    # HTTP/1.1 so that clients can keep connections alive (the default handler speaks 1.0).
    from werkzeug.serving import WSGIRequestHandler
    WSGIRequestHandler.protocol_version = "HTTP/1.1"
    app.run(host=host, port=port, threaded=True)


def run_aiohttp(host: str, port: int, root: str) -> None:
    """aiohttp's web server with its static route (uvloop when installed)."""
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="Hello, World!")

    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_static("/static/", root)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host=host, port=port, access_log=None, print=None)


@cli.entry("python -m labsupport.http.peers")
def main(argv: list[str] | None = None) -> int:
    p = cli.ArgumentParser(prog="python -m labsupport.http.peers")
    p.add_argument("peer", choices=["flask", "aiohttp"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    args = p.parse_args(argv)
    if importlib.util.find_spec(args.peer) is None:
        raise cli.InputError(f"{args.peer} is not installed (the peers extra)")
    (run_flask if args.peer == "flask" else run_aiohttp)(args.host, args.port, args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
