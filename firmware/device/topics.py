"""Device side of the MQTT topic contract (kept equal to contracts.mqtt by a test).

MicroPython-compatible: annotations only (no `typing` import), no dataclasses.
"""

ROOT = "byre"
TELEMETRY = "telemetry"
STATE = "state"
AVAILABILITY = "availability"
COMMAND = "cmd"
COMMAND_ACK = "cmd/ack"
ONLINE = "online"
OFFLINE = "offline"


def topic(device_id: str, kind: str, root: str = ROOT) -> str:
    """The topic a device uses for one kind of message."""
    return root + "/dev/" + device_id + "/" + kind
