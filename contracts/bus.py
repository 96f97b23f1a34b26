"""What travels on the event bus besides the envelope: header names and HQ's command requests.

Every event the bridge publishes carries its `EventEnvelope` as JSON in the body and these
headers, so consumers can route and deduplicate without parsing the body. In the other
direction HQ publishes a `CommandRequest` on `commands.requested`; a message there that
carries `HEADER_EVENT_ID` is an appliance's own `commands.requested` event republished by the
bridge, not a request, and central ignores it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import ContractModel
from contracts.commands import DeviceCommand
from contracts.envelope import EventType
from contracts.ids import Identifier

HEADER_EVENT_ID = "byre-event-id"
HEADER_EVENT_TYPE = "byre-event-type"
HEADER_FARM_ID = "byre-farm-id"
HEADER_SCHEMA_VERSION = "byre-schema-version"

COMMAND_REQUESTS_TOPIC = EventType.COMMAND_REQUESTED.value
"""The topic (Kafka), routing key (RabbitMQ) or subject (NATS) HQ publishes requests on."""


class CommandRequest(ContractModel):
    """A device command HQ asks central to deliver to one farm.

    Central stores it once per (`farm_id`, `command.correlation_id`), however often the
    bus delivers it; the farm's appliance picks it up with its desired state.
    """

    schema_version: Literal[1] = Field(default=1, description="Bumped on breaking changes.")
    farm_id: Identifier = Field(description="The farm whose appliance runs the command.")
    command: DeviceCommand
