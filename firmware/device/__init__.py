"""Device programs: MicroPython-compatible, importing nothing from the repository."""
