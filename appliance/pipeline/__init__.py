"""Camera pipelines: camera -> runner -> filters -> tracker -> zones -> analyzers -> events."""
