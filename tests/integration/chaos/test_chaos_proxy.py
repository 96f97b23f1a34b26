"""The chaos proxy itself: each fault behaves as named, budgets bound them, seeds repeat them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bench.chaos_proxy import NO_FAULTS, ChaosProxy, FaultRates

WAIT_S = 5.0


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def exchange(port: int, data: bytes = b"ping") -> bytes:
    """Send `data`, return what comes back before EOF (raises on a reset)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        received = b""
        async with asyncio.timeout(WAIT_S):
            while len(received) < len(data) and (chunk := await reader.read(65536)):
                received += chunk
        return received
    finally:
        writer.close()


async def outcome(port: int) -> str:
    """`answered` or `reset`."""
    try:
        return "answered" if await exchange(port) == b"ping" else "closed"
    except ConnectionError:
        return "reset"


async def test_a_passing_connection_forwards_both_ways(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port).start()
    try:
        assert await exchange(proxy.port, b"x" * 200_000) == b"x" * 200_000
    finally:
        await proxy.stop()
    assert proxy.counts["pass"] == 1


async def test_a_delayed_connection_still_forwards(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port, FaultRates(delay=1.0, delay_max_s=0.05)).start()
    try:
        assert await exchange(proxy.port) == b"ping"
    finally:
        await proxy.stop()
    assert proxy.counts["delay"] == 1


async def test_a_refused_connection_is_reset_before_any_answer(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port, FaultRates(refuse=1.0)).start()
    try:
        assert await outcome(proxy.port) == "reset"
    finally:
        await proxy.stop()
    assert proxy.counts["refuse"] == 1


async def test_a_reset_connection_ends_with_a_tcp_reset(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port, FaultRates(reset=1.0, reset_within_bytes=1)).start()
    try:
        with pytest.raises(ConnectionResetError):
            await exchange(proxy.port, b"y" * 100_000)
    finally:
        await proxy.stop()
    assert proxy.counts["reset"] == 1


async def test_a_blackholed_connection_reads_but_never_answers(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port, FaultRates(blackhole=1.0, blackhole_hold_s=30)).start()
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await exchange(proxy.port)
    finally:
        await proxy.stop()
    assert proxy.counts["blackhole"] == 1


async def test_a_fault_budget_bounds_each_kind(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port, FaultRates(refuse=1.0, max_each=2)).start()
    try:
        replies = [await outcome(proxy.port) for _ in range(4)]
    finally:
        await proxy.stop()
    assert replies == ["reset", "reset", "answered", "answered"]
    assert (proxy.counts["refuse"], proxy.counts["pass"]) == (2, 2)


async def test_the_same_seed_draws_the_same_fates(echo_port: int) -> None:
    rates = FaultRates(refuse=0.5, delay=0.5, delay_max_s=0.01)
    runs = []
    for _ in range(2):
        proxy = await ChaosProxy(echo_port, rates, seed=42).start()
        try:
            runs.append([await outcome(proxy.port) for _ in range(12)])
        finally:
            await proxy.stop()
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"reset", "answered"}


async def test_down_resets_everything_until_up(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port, NO_FAULTS).start()
    try:
        await proxy.down()
        assert await outcome(proxy.port) == "reset"
        proxy.up()
        assert await outcome(proxy.port) == "answered"
    finally:
        await proxy.stop()
    assert (proxy.counts["down"], proxy.counts["pass"]) == (1, 1)


async def test_a_forwarding_connection_is_closed_after_its_lifetime(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port, FaultRates(lifetime_s=0.2)).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        async with asyncio.timeout(WAIT_S):
            assert await reader.read() == b""  # a clean EOF, no reset
        writer.close()
    finally:
        await proxy.stop()
    assert proxy.counts["recycled"] == 1


async def test_the_opening_fates_come_first_once_rates_are_set(echo_port: int) -> None:
    proxy = await ChaosProxy(echo_port).start()
    try:
        assert await outcome(proxy.port) == "answered"
        proxy.rates = FaultRates(opening=("refuse", "pass", "refuse"), lifetime_s=None)
        replies = [await outcome(proxy.port) for _ in range(4)]
    finally:
        await proxy.stop()
    assert replies == ["reset", "answered", "reset", "answered"]


def test_rates_over_one_are_refused() -> None:
    with pytest.raises(ValueError, match="add up to at most 1"):
        FaultRates(refuse=0.6, reset=0.6)


def test_the_proxy_only_serves_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ChaosProxy(80, host="0.0.0.0")
