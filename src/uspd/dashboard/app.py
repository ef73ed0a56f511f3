"""``uspd serve``: the live chain with a web page beside it.

:func:`create_app` is the FastAPI app: the page (``/``, plain HTML, JavaScript and canvas
from ``static/``, no build step), the stream of a :class:`~uspd.dashboard.feed.Feed` as
server-sent events (``/api/stream``) and the settings (``GET``/``PUT /api/settings``).
:func:`serve` runs the chain on a thread and the web server on the calling one.

Local only by default: bound to a loopback address, the app also refuses requests whose
``Host`` is not a loopback name, so a web page elsewhere cannot reach it through DNS
rebinding. Bound to any other address it needs a token, which the page, the API and the
stream then require (``Authorization: Bearer …``, or ``?token=…`` where a browser cannot
set headers: the page's own URL and its event stream).
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from uspd.dashboard.feed import Feed
from uspd.dashboard.settings import Settings, SettingsError
from uspd.live.run import LiveChain, RunSummary, run_live
from uspd.live.sources import Source

STATIC = Path(__file__).parent / "static"
MIN_TOKEN_CHARS = 16
_KEEP_ALIVE_S = 15.0


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Refuse to expose the dashboard beyond this machine without a token worth the name."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the token must be at least {MIN_TOKEN_CHARS} characters long")
    if token is None and not is_loopback(host):
        raise ValueError(f"binding to {host} lets other machines reach the dashboard: give it a --token "
                         "(or set USPD_DASHBOARD_TOKEN), or bind to 127.0.0.1")


def create_app(feed: Feed, settings: Settings, *, token: str | None = None, local_only: bool = True) -> FastAPI:
    app = FastAPI(title="uspd dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    if local_only:
        @app.middleware("http")
        async def loopback_names_only(request: Request, call_next):
            if not is_loopback(request.url.hostname):
                return JSONResponse({"detail": "this dashboard answers only to 127.0.0.1 or localhost"}, status_code=403)
            return await call_next(request)

    def authorized(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        given = given or request.query_params.get("token", "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "this dashboard needs its token: open it with ?token=… in the address")

    guarded = [Depends(authorized)]
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", dependencies=guarded, include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/settings", dependencies=guarded)
    def read_settings() -> dict:
        return settings.describe()

    @app.put("/api/settings", dependencies=guarded)
    async def change_settings(request: Request) -> dict:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "send the settings as JSON (Content-Type: application/json)")
        try:
            changes = await request.json()
        except ValueError:
            raise HTTPException(400, "the request body is not valid JSON") from None
        if not isinstance(changes, dict):
            raise HTTPException(400, 'send an object like {"presence": {"hold_s": 120}}')
        try:
            return await asyncio.to_thread(settings.change, changes)
        except SettingsError as err:
            raise HTTPException(422, str(err)) from None
        except OSError as err:
            raise HTTPException(500, f"could not save the settings ({err.strerror or err}); nothing was changed") from None

    @app.get("/api/stream", dependencies=guarded)
    async def stream() -> StreamingResponse:
        backlog, page = feed.subscribe()

        async def messages():
            try:
                yield "".join(backlog)
                while True:
                    try:
                        message = await asyncio.wait_for(page.queue.get(), timeout=_KEEP_ALIVE_S)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if message is None:
                        return
                    yield message
            finally:
                feed.unsubscribe(page)

        return StreamingResponse(messages(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return app


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one); OSError in one sentence if it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as err:
        raise OSError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


class _Server(uvicorn.Server):
    """uvicorn that ends the pages' streams first when asked to stop (else it would wait for
    them), and returns after Ctrl-C or SIGTERM instead of raising the signal again, so that
    ``uspd serve`` stops the chain and prints its summary as ``uspd run`` does."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig, frame) -> None:
        self.on_exit()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop without waiting
        self.should_exit = True


def serve(app: FastAPI, sock: socket.socket, chain: LiveChain, source: Source, feed: Feed, *,
          speed: float | None, duration_s: float | None) -> tuple[RunSummary | None, BaseException | None]:
    """Run the chain on a thread and the web server here until Ctrl-C or SIGTERM; a stream that
    ends leaves the page up with its last state, a stream that fails stops the server.
    Returns the chain's summary (None if stopped early) and the error it failed with, if any."""
    stop = threading.Event()
    outcome: dict = {"summary": None, "error": None}
    server = _Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="off"),
                     on_exit=feed.close)

    def run_chain() -> None:
        try:
            outcome["summary"] = run_live(source, chain, speed=speed, duration_s=duration_s,
                                          on_block=feed.status, should_stop=stop.is_set)
            feed.status(chain.status, "stopped" if stop.is_set() else "ended")
        except Exception as err:  # the server stops and the caller reports it
            outcome["error"] = err
            feed.status(chain.status, f"failed: {err}")
            server.should_exit = True

    worker = threading.Thread(target=run_chain, name="uspd-live-chain", daemon=True)
    worker.start()
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        worker.join()
        feed.close()
    return outcome["summary"], outcome["error"]
