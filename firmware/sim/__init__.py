"""Host simulator: the device programs on simulated boards with plausible physics."""
