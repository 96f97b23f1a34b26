"""amqtt plugins that put the access policy in front of every login and topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from appliance.mqtt.access import AccessPolicy, Action, Principal

PRINCIPAL = "byre.principal"
"""Session attribute holding the authenticated `Principal`."""


def principal_of(session: Session | None) -> Principal | None:
    if session is None:
        return None
    principal = session.attributes.get(PRINCIPAL)
    return principal if isinstance(principal, Principal) else None


def _policy(config: Any) -> AccessPolicy:
    policy = getattr(config, "policy", None)
    if not isinstance(policy, AccessPolicy):
        raise TypeError("the plugin needs `policy`, an AccessPolicy")
    return policy


class DeviceAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Logs devices in with their provisioned secret and the appliance with its own."""

    @dataclass
    class Config:
        policy: Any = None

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.policy = _policy(self.config)

    async def authenticate(self, *, session: Session) -> bool:
        principal = await self.policy.authenticate(
            username=session.username,
            password=session.password,
            client_id=session.client_id,
            will_topic=session.will_topic if session.will_flag else None,
        )
        session.attributes.pop(PRINCIPAL, None)
        if principal is None:
            return False
        session.attributes[PRINCIPAL] = principal
        return True


class DeviceAclPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Topic ACL: devices stay inside their own topics; the appliance may use all."""

    @dataclass
    class Config:
        policy: Any = None

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.policy = _policy(self.config)

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Any = None,
    ) -> bool:
        if topic is None or action is None:
            return False
        return self.policy.allows(principal_of(session), Action(str(action)), topic)
