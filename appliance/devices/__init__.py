"""Device management: registry and credentials, availability and state, command sagas."""
