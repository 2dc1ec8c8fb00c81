"""The application on uvicorn: the connection limits of `ServerSettings` (connections.py), and a
shutdown that says what it is doing.

    first SIGTERM / Ctrl-C   "draining N requests (Ctrl-C again to stop now)": /ready answers 503
                             at once; for pre_stop_s the server goes on serving, so that a load
                             balancer probing /ready stops sending; then the listener closes, idle
                             connections are closed, accepted requests are answered, and whatever is
                             still queued drain_timeout_s later gets 503 with Retry-After
    second                   "stopping now": every request still waiting is answered 503 with
                             Retry-After at once and the process exits, leaving the engine pass
                             that was running (nothing can interrupt it) to the operating system
    third                    the process exits at once

The h11 protocol is chosen outright (not httptools, when it happens to be installed) so that the
limits hold whatever else is installed.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys

import uvicorn

from .connections import Connections, protocol_for

# What a pass already running may still need after the drain time is up: the largest batch on a
# slow machine, plus writing the answers.
_LAST_PASS_S = 30
# File descriptors the process keeps for itself beyond its connections (model files, the log, pipes).
_SPARE_FDS = 64


def connection_limit(wanted: int, say=print) -> int:
    """`wanted` connections, the soft limit on open files raised to allow it where the hard limit
    does; otherwise as many as the hard limit allows, said once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + _SPARE_FDS
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
        if soft < needed:
            say(f"--max-connections {wanted} is over what this process may open (ulimit -n {soft}): "
                f"holding at most {soft - _SPARE_FDS}")
            return max(1, soft - _SPARE_FDS)
    return wanted


def serve(app, settings, sock, on_listening=None, say=None) -> None:
    """Run `app` (made by `create_app`) on the bound socket `sock` until SIGTERM or Ctrl-C, then
    drain. `on_listening()` is called once the socket accepts connections; `say(line)` reports
    the shutdown (default: stderr, prefixed "minie5 serve: ")."""
    service = app.state.minie5
    say = say or (lambda line: print(f"minie5 serve: {line}", file=sys.stderr, flush=True))
    connections = Connections(connection_limit(settings.max_connections, say), settings.header_timeout_s, service)

    class Server(uvicorn.Server):
        signals = 0
        _loop: asyncio.AbstractEventLoop | None = None

        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if on_listening is not None:
                on_listening()

        async def serve(self, sockets=None):
            self._loop = asyncio.get_running_loop()
            await super().serve(sockets=sockets)

        def handle_exit(self, sig, frame):
            # A signal handler, between two bytecodes of the main thread: the work goes to the loop.
            self._captured_signals.append(sig)  # uvicorn raises it again once stopped
            self.signals += 1
            if self.signals >= 3:
                say("stopped at once")
                os._exit(128 + sig)
            if self._loop is None:  # not serving yet
                self.should_exit = True
            elif self.signals == 1:
                self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self.drain()))
            else:
                self._loop.call_soon_threadsafe(self.stop_now)

        async def drain(self):
            say(f"draining {service.requests_in_flight} requests (Ctrl-C again to stop now)")
            service.drain(pre_stop_s=settings.pre_stop_s)
            if settings.pre_stop_s > 0:
                say(f"/ready answers 503; the listener closes in {settings.pre_stop_s:g} s")
                waited = 0.0
                while waited < settings.pre_stop_s and self.signals == 1:
                    await asyncio.sleep(min(0.1, settings.pre_stop_s - waited))
                    waited += 0.1
            self.should_exit = True

        def stop_now(self):
            answered = service.stop_now()
            say(f"stopping now: {answered} waiting requests answered 503")
            self.should_exit = True

        async def shutdown(self, sockets=None):
            await super().shutdown(sockets=sockets)
            say(f"stopped ({service.shutdown_summary()})")

    config = uvicorn.Config(app, log_level="warning", lifespan="on", http=protocol_for(connections),
                            h11_max_incomplete_event_size=4 * settings.max_header_bytes,
                            timeout_graceful_shutdown=int(settings.drain_timeout_s) + _LAST_PASS_S)
    server = Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        if service.stopping_now:
            # Every request is answered; the engine's thread may still be in the pass nobody waits
            # for, and the interpreter would wait for it at exit.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(128 + (server._captured_signals or [15])[-1])
