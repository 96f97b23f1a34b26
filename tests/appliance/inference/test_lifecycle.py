"""Start and stop: sockets where the settings say, nothing left behind after shutdown."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from appliance.errors import SettingsError
from appliance.inference import PluginState, Runner, RunnerUnavailable
from appliance.inference.shm import SHM_DIR
from tests.appliance.inference.conftest import (
    leaked_segments,
    make_frame,
    make_settings,
    worker_children,
)
from tests.appliance.inference.test_plugins import mark
from tests.conftest import eventually


async def test_clean_shutdown_leaves_no_worker_process_socket_or_shared_memory() -> None:
    settings = make_settings({"type": "fake-boxes"}, {"type": "hang"}, {"type": "slow"})
    async with Runner(settings) as runner:
        await runner.wait_settled(20.0)
        pids = [s.pid or 0 for s in runner.status().values()]
        socket_dir = runner.socket_dir
        assert socket_dir is not None
        for camera in ("cam-1", "cam-2", "cam-3"):
            await runner.detect(camera, make_frame(), plugin="fake-boxes")
        stuck = asyncio.create_task(
            runner.detect("cam-4", mark(make_frame()), plugin="hang", deadline_s=60.0)
        )
        await asyncio.sleep(0.3)
        assert len(leaked_segments()) == 4
        assert sorted(worker_children()) == sorted(pids)

    with pytest.raises(RunnerUnavailable, match="plugin hang: runner stopped"):
        await stuck
    assert worker_children() == []
    assert [pid for pid in pids if alive(pid)] == []
    assert leaked_segments() == []
    assert not socket_dir.exists()
    assert {s.state for s in runner.status().values()} == {PluginState.STOPPED}


async def test_sockets_live_in_the_configured_directory_while_running(tmp_path: Path) -> None:
    socket_dir = tmp_path / "run"
    settings = make_settings({"type": "fake-boxes"}, socket_dir=socket_dir)
    async with Runner(settings) as runner:
        await runner.wait_settled(20.0)
        assert [p.name for p in socket_dir.iterdir()] == ["fake-boxes.sock"]
        assert socket_dir.stat().st_mode & 0o777 == 0o700

    assert list(socket_dir.iterdir()) == []


async def test_a_socket_path_too_long_for_unix_sockets_is_refused(tmp_path: Path) -> None:
    settings = make_settings({"type": "fake-boxes"}, socket_dir=tmp_path / ("x" * 110))
    with pytest.raises(SettingsError, match=r"socket_dir: socket path .* longer than 107 bytes"):
        async with Runner(settings):
            pass
    assert worker_children() == []


HOST = """
import asyncio
import numpy as np
from appliance.inference import Runner, RunnerSettings

async def main():
    settings = RunnerSettings(
        extra_modules=["tests.appliance.inference.test_plugins"],
        plugins=[{"config": {"type": "fake-boxes"}}],
    )
    async with Runner(settings) as runner:
        await runner.wait_settled(20)
        await runner.detect("cam-1", np.zeros((720, 1280, 3), dtype=np.uint8))
        print(runner.status()["fake-boxes"].pid, runner.client.rings["cam-1"].name, flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_killed_appliance_leaves_no_orphan_worker_or_segment() -> None:
    host = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOST, stdout=asyncio.subprocess.PIPE
    )
    assert host.stdout is not None
    line = await asyncio.wait_for(host.stdout.readline(), 30.0)
    worker_pid, segment = line.decode().split()
    assert alive(int(worker_pid))
    assert (SHM_DIR / segment).exists()

    host.kill()
    await host.wait()

    async def cleaned_up() -> bool:
        return not alive(int(worker_pid)) and not (SHM_DIR / segment).exists()

    await eventually(cleaned_up, 10.0)
