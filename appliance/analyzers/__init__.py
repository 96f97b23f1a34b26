"""Analyzers: tracked detections and zones -> farm events (plugins with typed configs)."""
