"""The Byre farm appliance: cameras, devices, local decisions and alerts, offline buffer, sync."""
