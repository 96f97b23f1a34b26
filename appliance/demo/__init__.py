"""Scripted sources for the demo, until the vision and device issues bring real ones."""
