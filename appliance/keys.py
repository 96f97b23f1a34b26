"""Typed keys for the state that hangs on the aiohttp application."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from appliance.incidents.engine import IncidentEngine
from appliance.mqtt.ingest import TelemetryIngest
from appliance.settings import ApplianceSettings
from appliance.store import Database, EventStore
from appliance.sync.agent import SyncAgent
from appliance.sync.client import CentralClient
from appliance.sync.identity import IdentityStore

SETTINGS = web.AppKey("settings", ApplianceSettings)
DATABASE = web.AppKey("database", Database)
EVENTS = web.AppKey("events", EventStore)
IDENTITIES = web.AppKey("identities", IdentityStore)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
CENTRAL = web.AppKey("central", CentralClient)
SYNC = web.AppKey("sync", SyncAgent)
INGEST = web.AppKey("ingest", TelemetryIngest)
INCIDENTS = web.AppKey("incidents", IncidentEngine)
