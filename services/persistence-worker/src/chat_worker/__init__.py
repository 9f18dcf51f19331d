"""The persistence worker: reads ``chat.messages`` in a consumer group and stores every message
in Postgres exactly once, committing Kafka offsets only after the database commit."""
