"""HTTP API routers, one per resource."""
