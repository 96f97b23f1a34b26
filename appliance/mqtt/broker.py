"""The embedded device broker, started and stopped with the appliance."""

from __future__ import annotations

import logging
from typing import Any

from amqtt.session import Session

from appliance.mqtt.access import AccessPolicy, Action, Principal
from appliance.mqtt.device_broker import BrokerLimits, DeviceBroker
from appliance.mqtt.plugins import DeviceAclPlugin, DeviceAuthPlugin, principal_of
from appliance.mqtt.settings import MqttSettings

log = logging.getLogger(__name__)

_ALLOWED_CACHE_SIZE = 50_000


def _plugin_path(plugin: type) -> str:
    return f"{plugin.__module__}.{plugin.__qualname__}"


def broker_config(settings: MqttSettings, policy: AccessPolicy) -> dict[str, Any]:
    """amqtt configuration: TCP listener, optional TLS and WebSocket listeners, our plugins."""
    listeners: dict[str, Any] = {
        "default": {"type": "tcp", "bind": f"{settings.host}:{settings.port}"}
    }
    tls = settings.tls
    certificates: dict[str, Any] = {}
    if tls is not None:
        certificates = {"certfile": str(tls.certfile), "keyfile": str(tls.keyfile)}
        if tls.cafile is not None:
            certificates["cafile"] = str(tls.cafile)
        listeners["tls"] = {
            "type": "tcp",
            "bind": f"{settings.host}:{tls.port}",
            "ssl": True,
            **certificates,
        }
    ws = settings.websocket
    if ws is not None:
        listeners["ws"] = {"type": "ws", "bind": f"{settings.host}:{ws.port}"}
        if ws.tls:
            listeners["ws"].update({"ssl": True, **certificates})
    return {
        "listeners": listeners,
        "session_expiry_interval": settings.session_expiry_s,
        "plugins": {
            _plugin_path(DeviceAuthPlugin): {"policy": policy},
            _plugin_path(DeviceAclPlugin): {"policy": policy},
        },
    }


class EmbeddedBroker:
    """amqtt with device logins, topic ACLs and the fixes of `DeviceBroker`."""

    def __init__(self, settings: MqttSettings, policy: AccessPolicy) -> None:
        self.settings = settings
        self.policy = policy
        self._broker: DeviceBroker | None = None
        self._allowed: set[tuple[Principal | None, Action, str]] = set()

    async def start(self) -> None:
        broker = DeviceBroker(
            broker_config(self.settings, self.policy),
            limits=BrokerLimits(
                max_packet_bytes=self.settings.max_packet_bytes,
                max_queued_messages=self.settings.max_queued_messages,
                connect_timeout_s=self.settings.connect_timeout_s,
            ),
            counters=self.policy.counters,
            may_receive=self._may_receive,
            acl=self._acl,
        )
        await broker.start()
        self._broker = broker
        log.info("device broker listening on %s:%d", self.settings.host, self.settings.port)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None

    async def disconnect_device(self, device_id: str) -> None:
        """Close a device's connection and drop its session (after its secret was revoked)."""
        if self._broker is not None:
            await self._broker.disconnect_client(device_id, forget=True)

    def connected_clients(self) -> int:
        return self._broker.connected_clients() if self._broker is not None else 0

    def _acl(self, session: Session, topic: str, action: str) -> bool:
        return self._allows(principal_of(session), Action(action), topic)

    def _may_receive(self, session: Session, topic: str) -> bool:
        return self._allows(principal_of(session), Action.RECEIVE, topic)

    def _allows(self, principal: Principal | None, action: Action, topic: str) -> bool:
        """The policy's answer; granted ones are remembered (the rules depend only on the
        principal and the topic; refusals always reach the policy, which counts them)."""
        key = (principal, action, topic)
        if key in self._allowed:
            return True
        if not self.policy.allows(principal, action, topic):
            return False
        if len(self._allowed) >= _ALLOWED_CACHE_SIZE:
            self._allowed.clear()
        self._allowed.add(key)
        return True
