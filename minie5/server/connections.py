"""Connections on uvicorn's h11 protocol: idle ones cost memory, never service.

A connection is *idle* while it has no request being handled: just opened, between keep-alive
requests, or still sending a request head. Requests in flight are limited by the application
(`--max-requests`, app.py); connections by this module, with a much larger cap, because an open
socket that sends nothing costs a few kilobytes and no engine time:

    header_timeout_s    a connection idle this long since it opened (or since its last answer) is
                        closed; one that sent part of a head is first answered 408
    max_connections     at the cap, a new connection closes the connection idle the longest (the
                        oldest of those waiting for a head, as nginx reclaims idle keep-alive
                        connections first); only when none is idle is the new one refused, with a
                        503 and Retry-After
    max_header_bytes    a head still unfinished past 4x this is answered 431 (h11's buffer); a
                        malformed head 400

uvicorn answers these in plain text, or not at all; here every refusal is a JSON body in OpenAI's
error shape with Retry-After where a retry can succeed, written straight to the socket (h11 can
send no response before a request head), and counted in /metrics under the route "connection".
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict

import h11
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

from .protocol import ApiError

log = logging.getLogger("minie5.server")


class Connections:
    """The open connections of one server, the idle ones in the order they became idle."""

    def __init__(self, limit: int, header_timeout_s: float, service):
        self.limit, self.header_timeout_s, self.service = limit, header_timeout_s, service
        self.open: set[Protocol] = set()
        self.idle: OrderedDict[Protocol, None] = OrderedDict()  # longest idle first

    def opened(self, connection: Protocol) -> bool:
        """Make room for `connection`: False when every open connection is busy (refuse it)."""
        if len(self.open) >= self.limit:
            if not self.idle:
                return False
            oldest, _ = self.idle.popitem(last=False)
            oldest.reclaim()
        self.open.add(connection)
        self.service.metrics.connections = len(self.open)
        return True

    def closed(self, connection: Protocol) -> None:
        self.open.discard(connection)
        self.idle.pop(connection, None)
        self.service.metrics.connections = len(self.open)

    def set_idle(self, connection: Protocol, idle: bool) -> None:
        if idle:
            self.idle[connection] = None
            self.idle.move_to_end(connection)
        else:
            self.idle.pop(connection, None)


class Protocol(H11Protocol):
    """uvicorn's h11 protocol under `Connections`' limits, refusing in JSON."""

    registry: Connections  # set per server by `protocol_for`

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._error: h11.RemoteProtocolError | None = None
        next_event = self.conn.next_event

        def next_event_noting_errors():  # uvicorn answers a malformed head without saying why
            try:
                return next_event()
            except h11.RemoteProtocolError as e:
                self._error = e
                raise

        self.conn.next_event = next_event_noting_errors
        if not self.registry.opened(self):
            self.refuse(503, f"the server holds its limit of {self.registry.limit} connections, all busy; "
                        "retry shortly", "too_many_connections")
            return
        self._became_idle()

    def connection_lost(self, exc) -> None:
        self.registry.closed(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self.registry.set_idle(self, False)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._became_idle()

    def _became_idle(self) -> None:
        self.registry.set_idle(self, True)
        cycle = self.cycle  # a new request replaces it; if none has when the timer fires, time is up
        self.loop.call_later(self.registry.header_timeout_s, self._head_timeout, cycle)

    def _head_timeout(self, cycle) -> None:
        if self.cycle is cycle and not self.transport.is_closing():
            timeout = self.registry.header_timeout_s
            self._close_idle(408, f"no whole request head within the server's header timeout of {timeout:g} s",
                             "request_timeout", retry=False)

    def reclaim(self) -> None:
        """Closed to make room for a new connection: idle, so nothing is lost."""
        self.service.metrics.reclaimed += 1
        self._close_idle(503, "the server is at its connection limit and closed this idle connection; retry",
                         "too_many_connections")

    def _close_idle(self, status: int, message: str, code: str, retry: bool = True) -> None:
        """A connection with part of a head is answered `status`; one that sent nothing is closed,
        as a keep-alive connection is."""
        if self.conn.trailing_data[0].strip():
            self.refuse(status, message, code, retry)
        else:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A head h11 cannot read: 431 past the buffer, 400 otherwise, each saying why."""
        error = self._error
        if error is not None and error.error_status_hint == 431:
            limit = self.config.h11_max_incomplete_event_size
            self.refuse(431, f"the request head is still unfinished after {limit} bytes",
                        "request_header_fields_too_large", retry=False)
        else:
            reason = str(error) if error is not None else msg
            self.refuse(400, f"not a valid HTTP/1.1 request ({reason})", "invalid_request", retry=False)

    def refuse(self, status: int, message: str, code: str, retry: bool = True) -> None:
        """Answer `status` in OpenAI's error shape and close the connection."""
        service = self.service
        error = ApiError(status, message, code=code, type="server_error" if status >= 500 else "invalid_request_error")
        body = json.dumps(error.body()).encode()
        headers = [f"HTTP/1.1 {status} {STATUS_PHRASES[status].decode()}", "content-type: application/json",
                   f"content-length: {len(body)}", "connection: close"]
        if retry:
            headers.append(f"retry-after: {service.retry_after()}")
        self.transport.write(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
        self.transport.close()
        service.metrics.request("connection", status, 0.0)
        service.access(route="connection", status=status, client=self.client)

    @property
    def service(self):
        return self.registry.service


def protocol_for(connections: Connections) -> type[Protocol]:
    """The protocol class of one server (uvicorn makes its instances)."""
    return type("Protocol", (Protocol,), {"registry": connections})
