"""A TCP chaos proxy on loopback: each connection is blackholed, refused, reset, delayed or passed.

The fate of a connection is drawn from a seeded RNG at the configured rates when it is
accepted. Each fault kind has a budget (`max_each`); once spent, its connections pass, so a
test that drives traffic through the proxy always converges. Forwarding connections (pass,
delay) live at most about `lifetime_s` and are then closed cleanly, as a NAT or load balancer
drops idle flows, so keep-alive clients keep opening new connections and meeting new faults.

`down()` takes the peer away (open connections are reset, new ones reset at once) until `up()`.

    proxy = await ChaosProxy(target_port, FaultRates(refuse=0.2, reset=0.2), seed=7).start()
    ...  # clients use proxy.port
    await proxy.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger(__name__)

FAULTS = ("blackhole", "refuse", "reset", "delay")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
CHUNK = 65536


@dataclass(frozen=True)
class FaultRates:
    """Per-connection probabilities of each fault (the rest pass) and their bounds."""

    blackhole: float = 0.0
    """Accept, read everything, never answer (the client's timeout has to notice)."""
    refuse: float = 0.0
    """Reset at once, before a byte is read (as a port nobody listens on)."""
    reset: float = 0.0
    """Forward, then reset both sides (SO_LINGER 0) after a random number of bytes."""
    delay: float = 0.0
    """Forward, sleeping up to `delay_max_s` before each chunk."""
    max_each: int = 1_000_000
    """Budget of each fault kind; once spent, its connections pass."""
    delay_max_s: float = 0.2
    reset_within_bytes: int = 64 * 1024
    """A reset connection is cut after a uniform number of bytes below this."""
    blackhole_hold_s: float = 60.0
    """A blackholed connection is closed after this long at the latest."""
    lifetime_s: float | None = 2.0
    """Forwarding connections are closed cleanly after 0.5-1.5 times this (None: never)."""
    opening: tuple[str, ...] = ()
    """Fates of the first connections, in order, before the random draws start: a short
    run still meets each fault (e.g. `opening=FAULTS`)."""

    def __post_init__(self) -> None:
        rates = [self.blackhole, self.refuse, self.reset, self.delay]
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        if self.max_each < 0 or self.reset_within_bytes < 1:
            raise ValueError("max_each must be >= 0 and reset_within_bytes >= 1")
        if not set(self.opening) <= {*FAULTS, "pass"}:
            raise ValueError(f"opening fates must be among {(*FAULTS, 'pass')}")


NO_FAULTS = FaultRates(lifetime_s=None)


class _Reset(Exception):
    """The byte budget of a reset connection is spent."""


class ChaosProxy:
    def __init__(
        self,
        target_port: int,
        rates: FaultRates = NO_FAULTS,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        target_host: str = "127.0.0.1",
    ) -> None:
        if host not in LOOPBACK or target_host not in LOOPBACK:
            raise ValueError("the chaos proxy only listens on and forwards to loopback")
        self.target = (target_host, target_port)
        self.host = host
        self.port = port
        self._rates = rates
        self._drawn = 0  # connections drawn for since the rates were set
        self.counts: Counter[str] = Counter()
        """Connections by outcome: each fault, `pass`, `down`, and `recycled` lifetimes."""
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._down = False

    @property
    def rates(self) -> FaultRates:
        return self._rates

    @rates.setter
    def rates(self, rates: FaultRates) -> None:
        """New rates; their `opening` fates start with the next connection."""
        self._rates = rates
        self._drawn = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def faults(self) -> int:
        return sum(self.counts[f] for f in FAULTS)

    async def start(self) -> ChaosProxy:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._accept, sock=sock)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.down()
        handlers, self._handlers = list(self._handlers), set()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def down(self) -> None:
        """Reset every open connection and every new one until `up()`."""
        self._down = True
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    def up(self) -> None:
        self._down = False

    def _draw(self) -> str:
        drawn, self._drawn = self._drawn, self._drawn + 1
        if drawn < len(self.rates.opening):
            fate = self.rates.opening[drawn]
            return fate if fate == "pass" or self.counts[fate] < self.rates.max_each else "pass"
        r = self._rng.random()
        for fault in FAULTS:
            rate: float = getattr(self.rates, fault)
            if r < rate:
                return fault if self.counts[fault] < self.rates.max_each else "pass"
            r -= rate
        return "pass"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The work runs in a task of our own, so `stop()` can cancel it without the
        # server's handler task ending cancelled (asyncio logs that as an error).
        self._writers.add(writer)
        task = asyncio.create_task(self._serve(reader, writer))
        self._handlers.add(task)
        try:
            await asyncio.wait([task])
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            if task.cancelled():
                _reset(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            self.counts["down"] += 1
            _reset(writer)
            return
        fate = self._draw()
        self.counts[fate] += 1
        if fate == "refuse":
            _reset(writer)
            return
        if fate == "blackhole":
            await self._blackhole(reader, writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.counts["unreachable"] += 1
            _reset(writer)
            return
        self._writers.add(up_writer)
        try:
            await self._forward(fate, (reader, writer), (up_reader, up_writer))
        finally:
            self._writers.discard(up_writer)

    async def _blackhole(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(self.rates.blackhole_hold_s):
                while await reader.read(CHUNK):
                    pass
        _reset(writer)

    async def _forward(
        self,
        fate: str,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        budget = [self._rng.randrange(self.rates.reset_within_bytes)] if fate == "reset" else None
        delay = self.rates.delay_max_s if fate == "delay" else 0.0
        lifetime = None
        if fate != "reset" and self.rates.lifetime_s is not None:
            lifetime = self.rates.lifetime_s * self._rng.uniform(0.5, 1.5)
        pipes = [
            asyncio.create_task(self._pipe(client[0], upstream[1], budget, delay)),
            asyncio.create_task(self._pipe(upstream[0], client[1], budget, delay)),
        ]
        try:
            done, _ = await asyncio.wait(
                pipes, timeout=lifetime, return_when=asyncio.FIRST_EXCEPTION
            )
            if any(not t.cancelled() and isinstance(t.exception(), _Reset) for t in done):
                _reset(client[1])
                _reset(upstream[1])
                return
            if len(done) < len(pipes):  # the lifetime is over
                self.counts["recycled"] += 1
                for _, w in (client, upstream):
                    w.close()  # a clean FIN on both sides
                await asyncio.wait(pipes, timeout=1.0)
        finally:
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            for _, w in (client, upstream):
                w.transport.abort()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        budget: list[int] | None,
        delay_max_s: float,
    ) -> None:
        try:
            while data := await reader.read(CHUNK):
                if delay_max_s:
                    await asyncio.sleep(self._rng.uniform(0, delay_max_s))
                if budget is not None:
                    if len(data) >= budget[0]:
                        writer.write(data[: budget[0]])
                        with contextlib.suppress(OSError, ConnectionError):
                            await writer.drain()
                        raise _Reset
                    budget[0] -= len(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()  # half-close: pass the peer's FIN along
        except (OSError, ConnectionError) as err:
            log.debug("chaos proxy pipe ended: %r", err)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
