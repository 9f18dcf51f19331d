"""The media worker's Prometheus metrics, on its own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds to decode, turn, re-encode and thumbnail one image: tens of milliseconds for a
# screenshot, a second or more for a 50-megapixel photo on a busy core.
IMAGE_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class MediaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.images_processed = Counter(
            "chat_media_images_processed",
            "Images re-encoded without metadata and given a thumbnail.",
            registry=registry,
        )
        self.images_refused = Counter(
            "chat_media_images_refused",
            "Images that could not be decoded or were over the limits, now shown as files.",
            registry=registry,
        )
        self.image_seconds = Histogram(
            "chat_media_image_seconds",
            "Time to process one image in the decoder pool, waiting for a process included.",
            buckets=IMAGE_SECONDS_BUCKETS,
            registry=registry,
        )
        self.events_announced = Counter(
            "chat_media_events_announced",
            "Attachment events the gateway made durable for this worker.",
            registry=registry,
        )
        self.events_dropped = Counter(
            "chat_media_events_dropped",
            "Attachment events not made: the message was gone (404) or the body refused.",
            ["reason"],
            registry=registry,
        )
        self.gateway_retries = Counter(
            "chat_media_gateway_retries",
            "Calls of the gateway's internal route tried again (unavailable, timed out).",
            registry=registry,
        )
        self.work_retries = Counter(
            "chat_media_work_retries",
            "Work on a record tried again because Postgres or the object store failed.",
            registry=registry,
        )
        self.objects_deleted = Counter(
            "chat_media_objects_deleted",
            "Objects deleted from the store, by why.",
            ["reason"],
            registry=registry,
        )
        self.orphans_removed = Counter(
            "chat_media_orphans_removed",
            "Uploads removed by the sweep: never sent, claimed but never stored, or of a"
            " deleted message whose delete was missed.",
            ["kind"],
            registry=registry,
        )
        self.deletes_unresolved = Counter(
            "chat_media_deletes_unresolved",
            "Deletes whose message was not stored within stored_wait_s; the sweep does them.",
            registry=registry,
        )
        self.sweep_failures = Counter(
            "chat_media_sweep_failures",
            "Sweeps that failed part-way; the next one goes on from where the rows say.",
            registry=registry,
        )
        self.offset_commit_failures = Counter(
            "chat_media_offset_commit_failures",
            "Offset commits that failed; the records are read and found done again.",
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "chat_media_consumer_lag",
            "Records in Kafka this worker has not yet handled, per assigned partition.",
            ["topic", "partition"],
            registry=registry,
        )
