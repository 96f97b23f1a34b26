"""The embedded amqtt broker, started and stopped with the appliance."""

from __future__ import annotations

import logging
from typing import Any

from amqtt.broker import Broker

from appliance.settings import MqttSettings

log = logging.getLogger(__name__)


def broker_config(settings: MqttSettings) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{settings.host}:{settings.port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


class EmbeddedBroker:
    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self._broker: Broker | None = None

    async def start(self) -> None:
        broker = Broker(broker_config(self.settings))
        await broker.start()
        self._broker = broker
        log.info("embedded MQTT broker listening on %s:%d", self.settings.host, self.settings.port)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
