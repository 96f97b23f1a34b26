"""Store-and-forward to central: enrolment, identity and the outbox drain."""
