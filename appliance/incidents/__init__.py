"""Monitoring & incidents: farm events grouped into cases with state, on the farm."""
