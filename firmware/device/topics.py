"""Device side of the MQTT topic contract (kept equal to contracts.mqtt by a test).

MicroPython-compatible: no typing imports, no f-string debugging, no dataclasses.
"""

ROOT = "byre"
TELEMETRY = "telemetry"
STATE = "state"
AVAILABILITY = "availability"
COMMAND = "cmd"
COMMAND_ACK = "cmd/ack"
ONLINE = "online"
OFFLINE = "offline"


def topic(device_id, kind, root=ROOT):
    """The topic a device uses for one kind of message."""
    return root + "/dev/" + device_id + "/" + kind
