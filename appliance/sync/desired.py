"""Desired and reported state: pull what central wants this farm to run, report what ran.

Two loops share one small state kept in the key-value table:
- the puller long-polls central's desired state; commands become edge command sagas (the
  saga table dedupes by correlation id, so a command delivered twice runs once), config and
  model assignments are recorded;
- the reporter tells central how far each of its commands got (delivered → accepted → done /
  failed / timed_out) and which version is applied. It wakes when the sagas record a
  `commands.*` event, so answers travel at once; a report central has taken is not repeated.

The device's acknowledgement also reaches HQ's bus as the `commands.acknowledged` event the
saga records, through the ordinary event sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from appliance.devices.commands import CommandSagas, SagaState
from appliance.devices.errors import DeviceError
from appliance.errors import CentralError
from appliance.hub import Hub
from appliance.settings import SyncSettings
from appliance.store.kv import KeyValue
from appliance.sync.client import CentralClient
from appliance.sync.identity import Identity, IdentityStore
from contracts import ContractError, DeviceCommand, decode
from contracts.desired import (
    DESIRED_PATH,
    MAX_COMMANDS,
    REPORTED_PATH,
    CommandProgress,
    CommandReport,
    DesiredState,
    ModelReport,
    ModelState,
    ReportedState,
    ReportedStateResponse,
)

log = logging.getLogger(__name__)

STATE_KEY = "central.desired"
CONFIG_KEY = "central.config"
SAFETY_CHECK_S = 5.0
"""Even without a wake-up, look at unfinished commands this often."""

PROGRESS = {
    SagaState.REQUESTED: CommandProgress.DELIVERED,
    SagaState.SENT: CommandProgress.DELIVERED,
    SagaState.ACCEPTED: CommandProgress.ACCEPTED,
    SagaState.DONE: CommandProgress.DONE,
    SagaState.FAILED: CommandProgress.FAILED,
    SagaState.TIMED_OUT: CommandProgress.TIMED_OUT,
}
FINAL = frozenset({CommandProgress.DONE, CommandProgress.FAILED, CommandProgress.TIMED_OUT})


class DesiredStatePuller:
    def __init__(
        self,
        identities: IdentityStore,
        central: CentralClient,
        sagas: CommandSagas,
        kv: KeyValue,
        hub: Hub,
        settings: SyncSettings,
    ) -> None:
        self.identities = identities
        self.central = central
        self.sagas = sagas
        self.kv = kv
        self.hub = hub
        self.settings = settings
        self.state: dict[str, Any] = _empty_state(None)
        self.errors: dict[str, str] = {}
        """The current failure of each loop (`pull`, `report`), for status pages."""
        self.polls = 0
        self._wake = asyncio.Event()
        self._version: int | None = None  # a restart asks for everything once
        self._appliance_id: str | None = None

    # --- loops ---------------------------------------------------------------------------

    async def run(self) -> None:
        self.state = await self.kv.get(STATE_KEY) or _empty_state(None)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._pull_loop())
            tasks.create_task(self._report_loop())
            tasks.create_task(self._watch_commands())

    async def _pull_loop(self) -> None:
        await self._forever("pull", self._pull_once)

    async def _report_loop(self) -> None:
        await self._forever("report", self._report_once)

    async def _pull_once(self) -> None:
        identity = await self.identities.load()
        if identity is None:
            await asyncio.sleep(self.settings.idle_interval_s)
            return
        if identity.appliance_id != self._appliance_id:
            self._appliance_id, self._version = identity.appliance_id, None
            if self.state.get("appliance_id") != identity.appliance_id:
                self.state = _empty_state(identity.appliance_id)
        desired = await self.fetch(identity, self._version)
        if desired is not None:
            await self.apply(desired)
            self._version = desired.version

    async def _report_once(self) -> None:
        self._wake.clear()
        identity = await self.identities.load()
        if identity is not None:
            await self.report(identity)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SAFETY_CHECK_S):
                await self._wake.wait()

    async def _forever(self, name: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` again and again; back off with jitter after a failure, log an outage
        once when it starts and once when it ends."""
        delay = self.settings.retry_min_s
        failing: str | None = None
        while True:
            try:
                await step()
            except CentralError as err:
                if failing is None:
                    log.warning("desired state (%s): central failed, will retry: %s", name, err)
                failing = self.errors[name] = str(err)
            except Exception as err:  # the local store; keep the loop alive
                if failing is None:
                    log.exception("desired state (%s) failed; retrying", name)
                failing = self.errors[name] = repr(err)
            else:
                if failing is not None:
                    log.info("desired state (%s) works again", name)
                failing = None
                self.errors.pop(name, None)
                delay = self.settings.retry_min_s
                continue
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, self.settings.retry_max_s)

    async def _watch_commands(self) -> None:
        """Wake the reporter when a saga of a central command records a step."""
        async with self.hub.subscribe() as events:
            while True:
                event = await events.get()
                if event.correlation_id in self.state["commands"]:
                    self._wake.set()

    # --- applying ------------------------------------------------------------------------

    async def apply(self, desired: DesiredState) -> None:
        """Start every new command as a saga; record config and model assignments."""
        commands: dict[str, Any] = self.state["commands"]
        for command in desired.commands:
            known = commands.get(command.correlation_id)
            if known is not None:
                known["reported"] = None  # central still waits for word on it
                continue
            progress, detail = await self._start(command)
            commands[command.correlation_id] = {
                "state": progress.value,
                "detail": detail,
                "reported": None,
            }
        if desired.config_version != self.state["config_version"]:
            await self.kv.put(
                CONFIG_KEY, {"config_version": desired.config_version, "config": desired.config}
            )
            log.info("central config version %d recorded", desired.config_version)
        self.state["version"] = desired.version
        self.state["config_version"] = desired.config_version
        self.state["models"] = [m.model_dump(mode="json") for m in desired.model_assignments]
        await self._save()
        self._wake.set()

    async def _start(self, command: DeviceCommand) -> tuple[CommandProgress, str | None]:
        if command.expires_at <= datetime.now(UTC):
            return CommandProgress.TIMED_OUT, "expired before it reached the appliance"
        try:
            saga, new = await self.sagas.request(
                command.device_id,
                command.action,
                dict(command.params),
                requested_by=f"central:{command.requested_by}"[:100],
                correlation_id=command.correlation_id,
            )
        except (DeviceError, ContractError) as err:
            log.warning("command %s from central refused: %s", command.correlation_id, err)
            return CommandProgress.FAILED, str(err)[:500]
        if new:
            log.info("command %s from central started", command.correlation_id)
        return PROGRESS[saga.state], saga.detail

    # --- reporting -----------------------------------------------------------------------

    async def report(self, identity: Identity) -> bool:
        """Send what changed since the last report central took; False if nothing did."""
        if self.state.get("appliance_id") != identity.appliance_id or self.state["version"] is None:
            return False
        commands: dict[str, Any] = self.state["commands"]
        for correlation_id, entry in list(commands.items()):
            if CommandProgress(entry["state"]) in FINAL:
                continue
            saga = await self.sagas.get(correlation_id)
            if saga is not None:
                entry["state"], entry["detail"] = PROGRESS[saga.state].value, saga.detail
        waiting = [(cid, dict(e)) for cid, e in commands.items() if e["reported"] != e["state"]]
        if not waiting and self.state["reported_version"] == self.state["version"]:
            return False
        due = dict(waiting[:MAX_COMMANDS])  # the rest go in the next report, at once
        sent = {cid: e["state"] for cid, e in due.items()}
        body = ReportedState(
            appliance_id=identity.appliance_id,
            applied_version=self.state["version"],
            config_version=self.state["config_version"],
            commands=[
                CommandReport(
                    correlation_id=cid,
                    state=CommandProgress(e["state"]),
                    detail=e["detail"][:500] if e["detail"] else None,
                )
                for cid, e in due.items()
            ],
            models=[
                ModelReport(name=m["name"], version=m["version"], state=ModelState.ASSIGNED)
                for m in self.state["models"]
            ],
        )
        await self.send_report(identity, body)
        for cid, state in sent.items():
            if CommandProgress(state) in FINAL:
                commands.pop(cid, None)
            elif cid in commands:
                commands[cid]["reported"] = state
        self.state["reported_version"] = body.applied_version
        await self._save()
        if len(waiting) > len(due):
            self._wake.set()
        return True

    # --- HTTP ----------------------------------------------------------------------------

    async def fetch(self, identity: Identity, version: int | None) -> DesiredState | None:
        """The farm's desired state, or None when nothing changed within the wait."""
        wait_s = self.settings.desired_wait_s
        query = f"wait_s={wait_s:g}" if version is None else f"version={version}&wait_s={wait_s:g}"
        url = f"{identity.server_url}{DESIRED_PATH}?{query}"
        headers = self.central.signer.headers(identity, "GET", url, b"")
        timeout = aiohttp.ClientTimeout(total=wait_s + self.settings.request_timeout_s)
        status, text = await self._call("GET", url, headers, None, timeout)
        self.polls += 1
        if status == 304:
            return None
        desired = _decode(DesiredState, text)
        if desired.farm_id != identity.farm_id:
            raise CentralError(f"central sent the desired state of farm {desired.farm_id}")
        return desired

    async def send_report(self, identity: Identity, body: ReportedState) -> ReportedStateResponse:
        url = f"{identity.server_url}{REPORTED_PATH}"
        raw = body.model_dump_json().encode()
        headers = self.central.signer.headers(identity, "POST", url, raw)
        headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout_s)
        _, text = await self._call("POST", url, headers, raw, timeout)
        reply = _decode(ReportedStateResponse, text)
        if reply.unknown:
            log.warning("central does not know commands %s", ", ".join(reply.unknown))
        return reply

    async def _call(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        limit: aiohttp.ClientTimeout,
    ) -> tuple[int, str]:
        try:
            async with self.central.session.request(
                method, url, data=body, headers=headers, timeout=limit
            ) as resp:
                text = await resp.text()
        except TimeoutError as err:
            raise CentralError(f"central did not answer {url} in time") from err
        except aiohttp.ClientError as err:
            raise CentralError(f"cannot reach central at {url}: {err!r}") from err
        if resp.status >= 400:
            raise CentralError(f"central answered {resp.status}: {text[:300]}", status=resp.status)
        return resp.status, text

    async def _save(self) -> None:
        await self.kv.put(STATE_KEY, self.state)


M = TypeVar("M", DesiredState, ReportedStateResponse)


def _decode(model: type[M], text: str) -> M:
    try:
        return decode(model, text)
    except ContractError as err:
        raise CentralError(f"central sent an unexpected reply: {err}") from err


def _empty_state(appliance_id: str | None) -> dict[str, Any]:
    return {
        "appliance_id": appliance_id,
        "version": None,
        "reported_version": None,
        "config_version": 0,
        "models": [],
        "commands": {},
    }


DESIRED = web.AppKey("desired_state", DesiredStatePuller)
