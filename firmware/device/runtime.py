"""The part every device program shares: staying connected, reporting, taking commands.

`Device.step(now)` never blocks for long, so one loop can drive a device on a board and a
host simulator can drive hundreds. A device:
- connects with its id as client id and username, a persistent session, and `offline` as its
  retained last will; then announces `online` (retained), subscribes to its command topic and
  publishes its state (retained);
- reconnects after any failure with exponential backoff and jitter;
- publishes telemetry every `report_interval_s`, and pings when idle;
- executes a command once per correlation id: a repeat (a resend, or a broker redelivery) gets
  the first answer again; the recent ids survive a restart (`<settings>.seen.json`).
"""

import json
import random

from firmware.device import topics
from firmware.device.mqtt import MessageSink, MQTTClient
from firmware.device.settings import Settings

RECENT_COMMANDS = 32


class Program:
    """What one kind of device does; subclasses read sensors and drive actuators."""

    def telemetry(self, now: float) -> dict[str, float]:
        return {}

    def state(self) -> dict[str, object]:
        return {}

    def execute(self, action: str, params: dict[str, object], now: float) -> tuple[str, str]:
        """Carry out a command; returns (status, detail): done, failed or accepted."""
        return "failed", "unknown action " + action

    def accept(self, correlation_id: str) -> None:
        """`execute` answered `accepted`: report the end of this command from `update`."""

    def update(self, now: float) -> list[tuple[str, str]]:
        """Advance the device; returns (correlation id, status) of accepted commands now over."""
        return []


class Device(MessageSink):
    def __init__(self, settings: Settings, program: Program) -> None:
        self.settings = settings
        self.program = program
        self.device_id = settings.text("device_id")
        self.root = settings.text("root")
        self.client: MQTTClient | None = None
        self.connected = False
        self.next_attempt = 0.0
        self.backoff = settings.number("backoff_min_s")
        self.next_report = 0.0
        self.last_state = ""
        self.recent: list[list[str]] = self._load_recent()
        self.pending: dict[str, str] = {}  # accepted correlation id -> command id
        self.inbox: list[bytes] = []
        self.connects = 0
        self.executed = 0

    def topic(self, kind: str) -> str:
        return topics.topic(self.device_id, kind, self.root)

    # --- the loop --------------------------------------------------------------------------------

    def step(self, now: float) -> None:
        if not self.connected:
            if now >= self.next_attempt:
                self._connect(now)
            return
        try:
            self._serve(now)
        except Exception as err:  # noqa: BLE001 - any failure means: reconnect
            self._lost(now, err)

    def stop(self) -> None:
        """Say `offline` (a clean disconnect sends no will) and disconnect."""
        if self.client is not None and self.connected:
            try:  # noqa: SIM105 - MicroPython has no contextlib
                self.client.publish(self.topic(topics.AVAILABILITY), b"offline", True, 1)
            except Exception:  # noqa: BLE001 - going away anyway
                pass
            self.client.disconnect()
        self.connected = False

    def _connect(self, now: float) -> None:
        s = self.settings
        client = MQTTClient(
            self.device_id,
            s.text("host"),
            int(s.number("port")),
            s.text("username"),
            s.text("password"),
            int(s.number("keepalive_s")),
        )
        client.set_last_will(self.topic(topics.AVAILABILITY), b"offline", True, 1)
        client.set_sink(self)
        try:
            client.connect(clean_session=False)
            client.publish(self.topic(topics.AVAILABILITY), b"online", True, 1)
            client.subscribe(self.topic(topics.COMMAND), 1)
        except Exception as err:  # noqa: BLE001 - refused, unreachable, timed out: retry later
            client.close()
            self._lost(now, err)
            return
        self.client = client
        self.connected = True
        self.connects += 1
        self.backoff = s.number("backoff_min_s")
        self.last_state = ""
        self.next_report = now

    def _lost(self, now: float, err: BaseException) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None
        self.connected = False
        delay = self.backoff * (0.5 + random.random())
        self.next_attempt = now + delay
        self.backoff = min(self.backoff * 2, self.settings.number("backoff_max_s"))

    def _serve(self, now: float) -> None:
        client = self.client
        if client is None:
            return
        client.check_msg()
        while self.inbox:
            self._command(self.inbox.pop(0), now)
        for correlation_id, status in self.program.update(now):
            command_id = self.pending.pop(correlation_id, "")
            self._remember(correlation_id, status)
            self._ack(command_id, correlation_id, status, "")
        if now >= self.next_report:
            values = self.program.telemetry(now)
            if values:
                sample = {"source_id": self.device_id, "values": values}
                client.publish(self.topic(topics.TELEMETRY), json.dumps(sample), False, 0)
            self.next_report = now + self.settings.number("report_interval_s")
        state = json.dumps(self.program.state())
        if state != self.last_state:
            client.publish(self.topic(topics.STATE), state, True, 1)
            self.last_state = state
        keepalive = self.settings.number("keepalive_s")
        if client.idle_for(now) >= keepalive / 2:
            client.ping()
        if client.silent_for(now) > keepalive * 1.5:
            raise OSError("the broker stopped answering")

    # --- commands --------------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes, retain: bool, dup: bool) -> None:
        self.inbox.append(payload)  # handled after check_msg, never inside a read

    def _command(self, payload: bytes, now: float) -> None:
        try:
            command = json.loads(payload)
            command_id = str(command["command_id"])
            correlation_id = str(command["correlation_id"])
            action = str(command["action"])
            params = command.get("params") or {}
            if command.get("device_id") != self.device_id or not isinstance(params, dict):
                return
        except (ValueError, KeyError, TypeError):
            return  # not a command; nothing to answer
        known = self._status_of(correlation_id)
        if known is not None:
            self._ack(command_id, correlation_id, known, "repeated")
            return
        if action == "set_report_interval":
            status, detail = self._set_interval(params)
        else:
            status, detail = self.program.execute(action, params, now)
        self.executed += 1
        self._remember(correlation_id, status)
        if status == "accepted":
            self.pending[correlation_id] = command_id
            self.program.accept(correlation_id)
        self._ack(command_id, correlation_id, status, detail)

    def _set_interval(self, params: dict[str, object]) -> tuple[str, str]:
        interval = params.get("interval_s")
        if not isinstance(interval, int) or not 1 <= interval <= 3600:
            return "failed", "interval_s must be 1..3600"
        self.settings.values["report_interval_s"] = interval
        self.settings.save()
        return "done", ""

    def _ack(self, command_id: str, correlation_id: str, status: str, detail: str) -> None:
        if self.client is None:
            return
        ack: dict[str, object] = {
            "command_id": command_id,
            "correlation_id": correlation_id,
            "device_id": self.device_id,
            "status": status,
        }
        if detail:
            ack["detail"] = detail
        self.client.publish(self.topic(topics.COMMAND_ACK), json.dumps(ack), False, 1)

    def _status_of(self, correlation_id: str) -> str | None:
        for known_id, status in self.recent:
            if known_id == correlation_id:
                return status
        return None

    def _remember(self, correlation_id: str, status: str) -> None:
        self.recent = [r for r in self.recent if r[0] != correlation_id]
        self.recent.append([correlation_id, status])
        self.recent = self.recent[-RECENT_COMMANDS:]
        with open(self._recent_path(), "w") as f:
            json.dump(self.recent, f)

    def _recent_path(self) -> str:
        return self.settings.path + ".seen.json"

    def _load_recent(self) -> list[list[str]]:
        try:
            with open(self._recent_path()) as f:
                recent = json.load(f)
        except (OSError, ValueError):
            return []
        return [[str(r[0]), str(r[1])] for r in recent if isinstance(r, list) and len(r) == 2]
