"""Device firmware for the farm's MQTT devices (MicroPython-compatible)."""
