"""The Byre central sync server: fleet-wide events, enrolment, and (later) the bus bridge."""
