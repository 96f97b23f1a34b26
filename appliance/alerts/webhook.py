"""Webhook delivery: JSON POST, HMAC-signed, retried with backoff; the event id dedupes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from typing import Any

import aiohttp

from appliance.alerts.settings import AlertRoute, AlertSettings

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>` (replay-resistant)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def deliver(
    session: aiohttp.ClientSession,
    route: AlertRoute,
    settings: AlertSettings,
    event_id: str,
    payload: dict[str, Any],
) -> bool:
    """POST until a 2xx answer or `max_attempts`; returns whether it was delivered."""
    assert route.url is not None
    body = json.dumps(payload, separators=(",", ":")).encode()
    delay = settings.retry_min_s
    timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_s)
    for attempt in range(1, settings.max_attempts + 1):
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Byre-Event-Id": event_id,
            "X-Byre-Timestamp": timestamp,
        }
        if route.secret is not None:
            headers["X-Byre-Signature"] = signature(
                route.secret.get_secret_value(), timestamp, body
            )
        try:
            async with session.post(route.url, data=body, headers=headers, timeout=timeout) as r:
                if 200 <= r.status < 300:
                    return True
                problem = f"HTTP {r.status}"
                if 400 <= r.status < 500 and r.status not in (408, 429):
                    log.error("webhook %s refused alert %s: %s", route.name, event_id, problem)
                    return False
        except (aiohttp.ClientError, TimeoutError) as err:
            problem = repr(err)
        if attempt == 1:
            log.warning("webhook %s failed (%s); retrying", route.name, problem)
        await asyncio.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, settings.retry_max_s)
    log.error("webhook %s gave up on alert %s", route.name, event_id)
    return False
