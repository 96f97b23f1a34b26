"""The bus bridge: central's outbox relayed to Kafka, RabbitMQ or NATS JetStream, and HQ's
command requests taken from the bus into central's `commands` table (see docs/adr/0006)."""
