"""Who may connect to the device broker and which topics each client may use.

Devices log in with their device id as username and client id and the secret given at
provisioning; a device publishes only its own telemetry, state, availability and command
acks, and subscribes only to its own command topic and to the alert tree (read-only). The
appliance's internal clients log in as `_appliance` (an id no device can have) with a secret
generated at every start, and may use every topic. Anonymous clients are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from appliance.devices.credentials import SecretHasher
from appliance.mqtt.metrics import BrokerCounters
from contracts.errors import TopicError
from contracts.ids import IDENTIFIER_PATTERN
from contracts.mqtt import DeviceTopicKind, device_topic, is_alert_filter, parse_device_topic

log = logging.getLogger(__name__)

APPLIANCE_USERNAME = "_appliance"
DEVICE_PUBLISHES = frozenset(
    {
        DeviceTopicKind.TELEMETRY,
        DeviceTopicKind.STATE,
        DeviceTopicKind.AVAILABILITY,
        DeviceTopicKind.COMMAND_ACK,
    }
)
_DEVICE_ID = re.compile(IDENTIFIER_PATTERN)


class Action(StrEnum):
    """What a client does with a topic (the values of amqtt's `Action`)."""

    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"
    RECEIVE = "receive"


class CredentialSource(Protocol):
    async def secret_hash(self, device_id: str) -> str | None:
        """The stored secret hash of an active device, or None."""


@dataclass(frozen=True)
class Principal:
    """An authenticated client: a device (its id) or the appliance itself (None)."""

    username: str
    device_id: str | None

    @property
    def is_appliance(self) -> bool:
        return self.device_id is None


class AccessPolicy:
    """Authentication and topic decisions; refusals are counted by reason."""

    def __init__(
        self,
        credentials: CredentialSource,
        *,
        root: str,
        counters: BrokerCounters,
        hasher: SecretHasher | None = None,
    ) -> None:
        self.credentials = credentials
        self.root = root
        self.counters = counters
        self.hasher = hasher or SecretHasher()
        self.appliance_secret = secrets.token_urlsafe(32)
        # username -> (stored hash, keyed digest of a secret that verified against it)
        self._verified: dict[str, tuple[str, bytes]] = {}
        self._cache_key = secrets.token_bytes(32)

    async def authenticate(
        self,
        *,
        username: str | None,
        password: str | None,
        client_id: str | None,
        will_topic: str | None,
    ) -> Principal | None:
        """The principal for these CONNECT fields, or None (counted) if refused."""
        if not username or password is None:
            return self._refuse("anonymous", username)
        if username == APPLIANCE_USERNAME:
            return await self._authenticate_appliance(password, client_id)
        if not _DEVICE_ID.fullmatch(username):
            return self._refuse("bad_username", username)
        if client_id != username:
            return self._refuse("client_id_mismatch", username)
        principal = Principal(username, username)
        if will_topic is not None and not self.allows(principal, Action.PUBLISH, will_topic):
            return self._refuse("will_topic", username)
        stored = await self.credentials.secret_hash(username)
        if stored is None:
            return self._refuse("unknown_device", username)
        if not await self._verify(username, password, stored):
            return self._refuse("bad_secret", username)
        return principal

    def allows(self, principal: Principal | None, action: Action, topic: str) -> bool:
        """Whether `principal` may do `action` on `topic` (a filter for SUBSCRIBE)."""
        if principal is not None and principal.is_appliance:
            return True
        allowed = principal is not None and self._device_allows(principal, action, topic)
        if not allowed:
            self.counters.acl_denied[action.value] += 1
            log.debug("refused %s %s on %s", principal, action.value, topic)
        return allowed

    def _device_allows(self, principal: Principal, action: Action, topic: str) -> bool:
        device_id = principal.device_id or ""
        if action is Action.PUBLISH:
            try:
                parsed = parse_device_topic(topic, root=self.root)
            except TopicError:
                return False
            return parsed.device_id == device_id and parsed.kind in DEVICE_PUBLISHES
        if is_alert_filter(topic, root=self.root):  # sirens and lights follow alerts
            return True
        return topic == device_topic(device_id, DeviceTopicKind.COMMAND, root=self.root)

    async def _authenticate_appliance(
        self, password: str, client_id: str | None
    ) -> Principal | None:
        if not (client_id or "").startswith(APPLIANCE_USERNAME):
            return self._refuse("client_id_mismatch", APPLIANCE_USERNAME)
        if not hmac.compare_digest(password.encode(), self.appliance_secret.encode()):
            return self._refuse("bad_secret", APPLIANCE_USERNAME)
        return Principal(APPLIANCE_USERNAME, None)

    async def _verify(self, username: str, password: str, stored: str) -> bool:
        digest = hmac.new(self._cache_key, password.encode(), hashlib.sha256).digest()
        cached = self._verified.get(username)
        if cached is not None and cached[0] == stored and hmac.compare_digest(cached[1], digest):
            return True
        if not await self.hasher.verify(password, stored):
            return False
        self._verified[username] = (stored, digest)
        return True

    def _refuse(self, reason: str, username: str | None) -> Principal | None:
        self.counters.auth_failures[reason] += 1
        log.debug("refused MQTT login of %r: %s", username, reason)
        return None
