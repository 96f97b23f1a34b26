"""The hardware a program talks to: named sensor readings and named outputs.

`PinBoard` maps names to the pins of a MicroPython board (ADC inputs, PWM or digital outputs),
as listed in the settings file; the host simulator supplies boards with simulated physics.
"""


class Board:
    def read(self, name: str, now: float) -> float:
        """The current value of sensor `name`."""
        raise NotImplementedError(name)

    def drive(self, name: str, value: float, now: float) -> None:
        """Set output `name` (0 = off; PWM outputs take 0..100)."""


class PinBoard(Board):
    """Sensors on ADC pins (`value = raw * scale + offset`), outputs on PWM or digital pins.

    settings: {"sensors": {"level_pct": {"adc": 34, "scale": 0.0244, "offset": 0}},
               "outputs": {"valve": {"pin": 5}, "fan": {"pwm": 18}}}
    """

    def __init__(self, sensors: dict[str, dict[str, float]], outputs: dict[str, dict[str, int]]):
        import machine  # only on a board

        self._sensors = {
            name: (
                machine.ADC(machine.Pin(int(c["adc"]))),
                c.get("scale", 1.0),
                c.get("offset", 0.0),
            )
            for name, c in sensors.items()
        }
        self._pwm = {
            name: machine.PWM(machine.Pin(int(c["pwm"])), freq=1000)
            for name, c in outputs.items()
            if "pwm" in c
        }
        self._pins = {
            name: machine.Pin(int(c["pin"]), machine.Pin.OUT)
            for name, c in outputs.items()
            if "pwm" not in c
        }

    def read(self, name: str, now: float) -> float:
        adc, scale, offset = self._sensors[name]
        return float(adc.read_u16()) * scale + offset

    def drive(self, name: str, value: float, now: float) -> None:
        if name in self._pwm:
            self._pwm[name].duty_u16(int(65535 * max(0.0, min(value, 100.0)) / 100))
        elif name in self._pins:
            self._pins[name].value(1 if value else 0)
