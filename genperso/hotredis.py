"""A lean pipelined ``asyncio`` Redis connection for the serving hot path.

``redis.asyncio`` costs 40-70 µs of CPU per command (connection pool checkout, retry wrappers,
per-call locks and timeouts), which is most of what a cache-hit ``personalize`` spends in
Python. The hot path only needs a handful of commands (``MGET``, ``SET``, ``HGETALL``, ``HSET``,
``EXPIRE``), so it talks RESP2 over one connection per event loop:

- commands are queued and written once per event-loop iteration (auto-pipelining: the commands
  of all requests handled in one iteration leave in one ``send``, and Redis answers them in one
  read), their replies matched in order (concurrent requests share the connection as a
  pipeline: no pool, no lock);
- replies are parsed by ``hiredis`` (a dependency of ``redis[hiredis]``);
- a watchdog closes the connection when the oldest outstanding command has waited longer than
  ``timeout_s`` (every waiter then gets ``ConnectionError``); the next call reconnects.

Only plain ``redis://`` URLs (host, port, db, user/password) are spoken here; ``rediss://`` and
``unix://`` deployments get ``None`` from ``lean_client`` and keep ``redis.asyncio``. Errors are
raised as ``ConnectionError`` (transport) or ``RedisReplyError`` (a Redis error reply); the hot
path answers either by running the synchronous pipeline.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Sequence
from urllib.parse import unquote, urlparse

import hiredis

__all__ = ["LeanRedis", "RedisReplyError", "lean_client"]


class RedisReplyError(Exception):
    """Redis answered a command with an error reply."""


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: LeanRedis) -> None:
        self.owner = owner
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        pending = self.owner._pending
        reply = reader.gets()
        while reply is not False:
            fut = pending.popleft()
            if not fut.done():
                if isinstance(reply, hiredis.ReplyError):
                    fut.set_exception(RedisReplyError(str(reply)))
                else:
                    fut.set_result(reply)
            reply = reader.gets()
        self.owner._progress = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(self, exc)


class LeanRedis:
    """One pipelined connection, bound to the event loop that first uses it."""

    def __init__(self, host: str, port: int = 6379, db: int = 0, *, username: str | None = None,
                 password: str | None = None, timeout_s: float = 5.0) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._progress = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._wbuf: list[bytes] = []  # commands packed this loop iteration, written together

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._connecting is not None:
            return await asyncio.shield(self._connecting)
        self._connecting = fut = loop.create_future()
        try:
            _t, proto = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), self.host, self.port), self.timeout_s)
            self._proto = proto
            setup: list[tuple[Any, ...]] = []
            if self.password is not None:
                setup.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
            if self.db:
                setup.append(("SELECT", self.db))
            if setup:
                await asyncio.wait_for(asyncio.gather(*self._send(proto, setup)), self.timeout_s)
            fut.set_result(proto)
            return proto
        except BaseException as exc:
            self._proto = None
            err = ConnectionError(f"cannot connect to redis at {self.host}:{self.port}: {exc!r}")
            self._fail(err)
            fut.set_exception(err)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            if isinstance(exc, Exception):
                raise err from None
            raise
        finally:
            self._connecting = None

    def _send(self, proto: _Protocol, commands: Sequence[Sequence[Any]]) -> list[asyncio.Future[Any]]:
        transport = proto.transport
        if transport is None or transport.is_closing() or proto is not self._proto:
            raise ConnectionError("redis connection closed")
        loop = asyncio.get_running_loop()
        if not self._pending:
            self._progress = time.monotonic()
        futs = [loop.create_future() for _ in commands]
        self._pending.extend(futs)
        if not self._wbuf:
            loop.call_soon(self._flush, proto)
        self._wbuf.extend(hiredis.pack_command(tuple(c)) for c in commands)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.timeout_s / 2, self._check)
        return futs

    def _flush(self, proto: _Protocol) -> None:
        """Write what every request of this loop iteration queued in one ``send`` (auto-pipelining:
        with many concurrent requests one syscall carries many commands, and Redis answers them in
        one read). A connection lost meanwhile has already failed the waiting futures."""
        data, self._wbuf = b"".join(self._wbuf), []
        transport = proto.transport
        if data and transport is not None and not transport.is_closing() and proto is self._proto:
            transport.write(data)

    def _check(self) -> None:
        """Close the connection when replies have stalled for ``timeout_s``."""
        self._watchdog = None
        if not self._pending:
            return
        if time.monotonic() - self._progress > self.timeout_s:
            proto, self._proto = self._proto, None
            if proto is not None and proto.transport is not None:
                proto.transport.abort()
            self._fail(ConnectionError(f"redis did not answer within {self.timeout_s} s"))
            return
        self._watchdog = asyncio.get_running_loop().call_later(self.timeout_s / 2, self._check)

    def _fail(self, exc: Exception) -> None:
        pending, self._pending = self._pending, collections.deque()
        self._wbuf = []  # their commands, if not written yet, are dropped with them
        for fut in pending:
            if not fut.done():
                fut.set_exception(exc)

    def _lost(self, proto: _Protocol, exc: Exception | None) -> None:
        if self._proto is proto:
            self._proto = None
        self._fail(ConnectionError(f"redis connection lost: {exc!r}" if exc else "redis connection closed"))

    async def execute(self, *commands: Sequence[Any]) -> list[Any]:
        """Send the commands back to back (one write) and return their replies, in order; raises
        ``RedisReplyError`` for the first command answered with an error."""
        proto = self._proto
        if proto is None or proto.transport is None or proto.transport.is_closing():
            proto = await self._connect()
        futs = self._send(proto, commands)
        try:
            return [await fut for fut in futs]
        except BaseException:
            for fut in futs:  # the replies nobody will read: no "exception never retrieved" noise
                if fut.done():
                    _retrieve(fut)
                else:
                    fut.add_done_callback(_retrieve)
            raise

    async def close(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None and proto.transport is not None:
            proto.transport.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def lean_client(url: str, timeout_s: float = 5.0) -> LeanRedis | None:
    """A ``LeanRedis`` for a plain ``redis://host:port/db`` URL (credentials allowed), else None."""
    u = urlparse(url)
    if u.scheme != "redis" or u.query or not u.hostname:
        return None
    path = u.path.strip("/")
    try:
        db = int(path) if path else 0
    except ValueError:
        return None
    return LeanRedis(u.hostname, u.port or 6379, db, username=unquote(u.username) if u.username else None,
                     password=unquote(u.password) if u.password is not None else None, timeout_s=timeout_s)
