"""The gateway's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from chat_common.metrics import LATENCY_BUCKETS, new_registry


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or new_registry()
        r = self.registry
        self.connections = Gauge("chat_gateway_connections", "Open WebSocket sessions", registry=r)
        self.joined_rooms = Gauge(
            "chat_gateway_room_subscriptions", "Rooms this gateway follows in Redis", registry=r
        )
        self.room_members = Gauge(
            "chat_gateway_room_memberships", "Joined (connection, room) pairs", registry=r
        )
        self.messages_received = Counter(
            "chat_gateway_messages_received_total",
            "Log entries accepted from senders: messages, edits, deletes and reactions",
            registry=r,
        )
        self.room_events = Counter(
            "chat_gateway_room_events_total",
            "Edits, deletes and reactions made durable, by kind (also in messages_received)",
            ["kind"],
            registry=r,
        )
        self.messages_delivered = Counter(
            "chat_gateway_messages_delivered_total",
            "Message frames queued to connections",
            registry=r,
        )
        self.ack_latency = Histogram(
            "chat_gateway_ack_latency_seconds",
            "send received to ack sent (durable in Kafka)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Where an ack's time goes: the checks and the admission script (Redis), the durable
        # append (Kafka, acks=all), the publication (Redis). Their sum is most of ack_latency.
        self.send_stage = Histogram(
            "chat_gateway_send_stage_seconds",
            "time a send spends in each stage before its ack",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.deliver_latency = Histogram(
            "chat_gateway_publish_to_deliver_seconds",
            "message timestamp to frame queued for local connections",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.producer_renewals = Counter(
            "chat_gateway_kafka_producer_renewals_total",
            "Kafka producers replaced because the broker no longer knew their idempotent session "
            "(after a broker restart)",
            registry=r,
        )
        self.queue_overflows = Counter(
            "chat_gateway_outbound_overflows_total",
            "Connections closed because their outbound queue was full (slow consumers)",
            registry=r,
        )
        self.closes = Counter(
            "chat_gateway_closes_total",
            "Connections closed by the server, by close code",
            ["code"],
            registry=r,
        )
        self.errors = Counter(
            "chat_gateway_command_errors_total", "Error replies, by code", ["code"], registry=r
        )
        self.redis_errors = Counter(
            "chat_gateway_redis_errors_total", "Redis failures, by operation", ["op"], registry=r
        )
        self.kafka_errors = Counter(
            "chat_gateway_kafka_errors_total", "Kafka produce failures", registry=r
        )
        self.seq_holes = Counter(
            "chat_gateway_seq_holes_total", "Live seq holes that needed filling", registry=r
        )
        self.upgrades_refused = Counter(
            "chat_gateway_upgrades_refused_total",
            "WebSocket upgrades answered 503 while too many new sessions were being set up",
            registry=r,
        )
        self.task_failures = Counter(
            "chat_gateway_task_failures_total",
            "Background tasks that failed unexpectedly and were restarted, by task",
            ["task"],
            registry=r,
        )
        self.seq_given_up = Counter(
            "chat_gateway_seq_given_up_total",
            "Seqs declared unused after the hole deadline",
            registry=r,
        )
