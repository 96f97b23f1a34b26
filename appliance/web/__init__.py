"""The appliance's local HTTP API (and, later, the farmer's web UI)."""
