"""The `byre` command line for technicians and operators."""
