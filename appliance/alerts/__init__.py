"""Local alerting that needs no internet: browser push, webhooks, MQTT, escalation."""
