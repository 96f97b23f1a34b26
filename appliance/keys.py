"""Typed keys for the state that hangs on the aiohttp application."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from appliance.alerts.dispatcher import AlertDispatcher
from appliance.devices.automations import Automations
from appliance.devices.commands import CommandSagas
from appliance.devices.registry import DeviceRegistry
from appliance.devices.rules import SensorRules
from appliance.devices.status import DeviceStatusTracker
from appliance.devices.telemetry import TelemetryRollups
from appliance.incidents.engine import IncidentEngine
from appliance.media.context import Media
from appliance.mqtt.access import AccessPolicy
from appliance.mqtt.broker import EmbeddedBroker
from appliance.mqtt.ingest import TelemetryIngest
from appliance.mqtt.link import MqttLink
from appliance.overrides import Overrides
from appliance.settings import ApplianceSettings
from appliance.store import Database, EventStore
from appliance.sync.agent import SyncAgent
from appliance.sync.client import CentralClient
from appliance.sync.identity import IdentityStore
from appliance.sync.media import MediaUploader

SETTINGS = web.AppKey("settings", ApplianceSettings)
DATABASE = web.AppKey("database", Database)
EVENTS = web.AppKey("events", EventStore)
IDENTITIES = web.AppKey("identities", IdentityStore)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
CENTRAL = web.AppKey("central", CentralClient)
SYNC = web.AppKey("sync", SyncAgent)
MEDIA_UPLOADER = web.AppKey("media_uploader", MediaUploader)
INGEST = web.AppKey("ingest", TelemetryIngest)
DEVICES = web.AppKey("devices", DeviceRegistry)
ACCESS = web.AppKey("mqtt_access", AccessPolicy)
BROKER = web.AppKey("mqtt_broker", EmbeddedBroker)
MQTT = web.AppKey("mqtt_link", MqttLink)
DEVICE_STATUS = web.AppKey("device_status", DeviceStatusTracker)
COMMANDS = web.AppKey("commands", CommandSagas)
DEVICE_RULES = web.AppKey("device_rules", SensorRules)
TELEMETRY = web.AppKey("telemetry", TelemetryRollups)
AUTOMATIONS = web.AppKey("automations", Automations)
INCIDENTS = web.AppKey("incidents", IncidentEngine)
MEDIA = web.AppKey("media", Media)
ALERTS = web.AppKey("alerts", AlertDispatcher)
OVERRIDES = web.AppKey("overrides", Overrides)
