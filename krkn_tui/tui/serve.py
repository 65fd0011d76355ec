"""`krkn-tui serve`: the console in a browser, through textual-serve (each viewer's page runs
a console of its own, as a subprocess, on the same cluster and folders).

What this adds to textual-serve's server, and why:
- beyond loopback every request but the static files needs the token: the page's URL carries it
  (``?token=``), the answer sets it as a same-site, HttpOnly cookie, and the websocket (whose URL
  textual-serve's page builds without our query) is let in by that cookie;
- the websocket's Origin must be the served one when a browser sends it: another site's page
  cannot open a console on loopback behind the viewer's back (cross-site WebSocket);
- the viewers' consoles are read-only unless ``allow_control``.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

COOKIE = "krkn_tui_token"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


class ConsoleServer(Server):
    def __init__(self, command: str, host: str, port: int, public_url: str, token: str | None):
        super().__init__(command, host=host, port=port, title="krkn-tui", public_url=public_url)
        self.token = token
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(public_url))

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        if request.path.startswith("/static/"):
            return await handler(request)
        origin = request.headers.get("Origin")
        if request.path == "/ws" and origin is not None and origin != self.origin:
            raise web.HTTPForbidden(text=f"websocket from another origin ({origin}) refused")
        if self.token is not None:
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                raise web.HTTPForbidden(text="this console needs the token of the URL `krkn-tui serve` printed")
        response = await handler(request)
        if self.token is not None and request.path == "/":
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def on_startup(self, app: web.Application) -> None:
        """One line instead of textual-serve's banner; the URL is said by the command."""
