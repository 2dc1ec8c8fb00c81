"""The application on uvicorn, with the connection-level limits of `ServerSettings` and a
graceful drain on SIGTERM / Ctrl-C.

    header_timeout_s    a connection that has not sent a whole request head this long after it
                        opened (or after its last answer) is closed: uvicorn alone keeps it forever
    max_header_bytes    uvicorn's h11 buffer is 4x this (past it: uvicorn's 400); the app's own
                        check answers 431 from 1x (app.py, _HeaderLimits)
    max_connections     uvicorn's limit_concurrency: past it, new requests get uvicorn's 503
    drain_timeout_s     on SIGTERM: /ready says 503 at once, the listener closes, requests already
                        accepted are answered, what is still queued after drain_timeout_s gets a
                        503 with Retry-After, and uvicorn waits for the last pass to be written

The h11 protocol is chosen outright (not httptools, when it happens to be installed) so that the
limits above hold whatever else is installed.
"""

from __future__ import annotations

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

# What a pass already running may still need after the drain time is up: the largest batch on a
# slow machine, plus writing the answers.
_LAST_PASS_S = 30


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that do not send a request head in time."""

    header_timeout_s = 10.0  # set per server by `serve`

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._await_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._await_head()

    def _await_head(self) -> None:
        cycle = self.cycle  # a new request replaces it; if none has when the timer fires, close
        self.loop.call_later(self.header_timeout_s, self._head_timeout, cycle)

    def _head_timeout(self, cycle) -> None:
        if self.cycle is cycle and not self.transport.is_closing():
            self.transport.close()


def serve(app, settings, sock, on_listening=None) -> None:
    """Run `app` (made by `create_app`) on the bound socket `sock` until SIGTERM or Ctrl-C, then
    drain. `on_listening()` is called once the socket accepts connections."""

    protocol = type("Protocol", (_Protocol,), {"header_timeout_s": settings.header_timeout_s})

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if on_listening is not None:
                on_listening()

        def handle_exit(self, sig, frame):
            # A signal handler: hand the drain to the event loop, which is between callbacks.
            loop = getattr(self, "_loop", None)
            if loop is not None and not self.should_exit:
                loop.call_soon_threadsafe(app.state.minie5.drain)
            super().handle_exit(sig, frame)

        async def serve(self, sockets=None):
            import asyncio

            self._loop = asyncio.get_running_loop()
            await super().serve(sockets=sockets)

    config = uvicorn.Config(app, log_level="warning", lifespan="on", http=protocol,
                            h11_max_incomplete_event_size=4 * settings.max_header_bytes,
                            limit_concurrency=settings.max_connections,
                            timeout_graceful_shutdown=int(settings.drain_timeout_s) + _LAST_PASS_S)
    Server(config).run(sockets=[sock])
