"""Built-in detector plugins."""
