"""Checks that every metric the dashboards, alerts, adapter rules and HPAs name is exported.

The exported names are read from the services' metrics modules (the names given to
prometheus_client; counters gain `_total`, histograms `_bucket`, `_sum` and `_count`) plus the
process collectors every service registers. Redis's metrics (`redis_…`) come from
oliver006/redis_exporter, whose names are listed here for the version the manifests run, and
every manifest must run that version. A renamed metric fails here, not on a blank graph.

Usage: metric_names.py REPOSITORY_ROOT
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

DEFINED = re.compile(
    r"""(Counter|Gauge|Histogram|Summary)(?:MetricFamily)?\(\s*["']([a-z_:][a-z0-9_:]*)["']"""
)
REFERENCED = re.compile(r"\b((?:chat|process)_[a-z0-9_]+)")
REDIS_REFERENCED = re.compile(r"\b(redis_[a-z0-9_]+)")
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")
# prometheus_client's ProcessCollector, registered by chat_common.metrics.new_registry.
PROCESS = {
    "process_cpu_seconds",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
}
MONITORING = "k8s/components/monitoring"
# The Redis exporter beside every Redis node and Sentinel (k8s/components/redis*), and the
# metrics of that version that may be named: read from its source at the tag, exporter/exporter.go
# (the INFO fields it maps, its metric descriptions, the `config_` gauges) with its default
# namespace `redis`. A metric not listed here may still exist: read it in the exporter's source
# of this version before adding it. A new image version means reading them again.
REDIS_EXPORTER_IMAGE = "oliver006/redis_exporter:v1.62.0"
REDIS_EXPORTER = {
    f"redis_{name}"
    for name in (
        # server, clients, configuration
        "up",
        "instance_info",
        "slave_info",
        "start_time_seconds",
        "uptime_in_seconds",
        "connected_clients",
        "blocked_clients",
        "config_maxclients",
        "config_maxmemory",
        "exporter_last_scrape_error",
        # memory, keys, commands
        "memory_used_bytes",
        "memory_used_rss_bytes",
        "memory_used_peak_bytes",
        "memory_max_bytes",
        "mem_fragmentation_ratio",
        "evicted_keys_total",
        "expired_keys_total",
        "keyspace_hits_total",
        "keyspace_misses_total",
        "db_keys",
        "db_keys_expiring",
        "commands_processed_total",
        "commands_total",
        "commands_duration_seconds_total",
        "connections_received_total",
        "rejected_connections_total",
        "net_input_bytes_total",
        "net_output_bytes_total",
        "pubsub_channels",
        "pubsub_patterns",
        "pubsubshard_channels",
        "cpu_sys_seconds_total",
        "cpu_user_seconds_total",
        # persistence
        "loading_dump_file",
        "aof_enabled",
        "aof_last_write_status",
        "aof_last_bgrewrite_status",
        "aof_rewrite_in_progress",
        "aof_current_size_bytes",
        "aof_base_size_bytes",
        "aof_delayed_fsync",
        "rdb_last_bgsave_status",
        "latest_fork_usec",
        # replication
        "connected_slaves",
        "connected_slave_lag_seconds",
        "connected_slave_offset_bytes",
        "master_link_up",
        "master_last_io_seconds_ago",
        "master_sync_in_progress",
        "master_repl_offset",
        "slave_repl_offset",
        "replica_resyncs_full",
        "replica_partial_resync_accepted",
        "replica_partial_resync_denied",
        "repl_backlog_is_active",
        # Sentinel (the exporter beside a Sentinel)
        "sentinel_masters",
        "sentinel_tilt",
        "sentinel_master_status",
        "sentinel_master_slaves",
        "sentinel_master_sentinels",
        "sentinel_master_ok_slaves",
        "sentinel_master_ok_sentinels",
        "sentinel_master_ckquorum_status",
        "sentinel_master_setting_ckquorum",
        "sentinel_master_setting_down_after_milliseconds",
        "sentinel_master_setting_failover_timeout",
    )
}
_EXPORTER_IMAGE = re.compile(r"image:\s*(\S*redis_exporter\S*)")


def exported(root: Path) -> set[str]:
    names = set(PROCESS)
    for module in root.glob("services/*/src/*/metrics.py"):
        names |= {match.group(2) for match in DEFINED.finditer(module.read_text())}
    return names


def exporter_images(root: Path) -> dict[str, set[str]]:
    """The Redis exporter images the manifests run, by file."""
    found: dict[str, set[str]] = {}
    for path in root.glob("k8s/**/*.yaml"):
        images = set(_EXPORTER_IMAGE.findall(path.read_text()))
        if images:
            found[str(path.relative_to(root))] = images
    return found


def base_name(reference: str) -> str:
    for suffix in SUFFIXES:
        if reference.endswith(suffix):
            return reference.removesuffix(suffix)
    return reference


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def references(root: Path, pattern: re.Pattern[str] = REFERENCED) -> dict[str, set[str]]:
    """Metric names referenced (the services' unless told), by the file that references them."""
    found: dict[str, set[str]] = {}
    sources: list[tuple[Path, Any]] = [
        (path, json.loads(path.read_text())) for path in root.glob(f"{MONITORING}/*.json")
    ]
    for files in (f"{MONITORING}/*.yaml", "k8s/base/*.yaml"):
        for path in root.glob(files):
            sources.append((path, list(yaml.safe_load_all(path.read_text()))))
    for path, document in sources:
        names = {m for text in strings(document) for m in pattern.findall(text)}
        if names:
            found[str(path.relative_to(root))] = names
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1])
    exported_names = exported(root)
    errors = []
    total = 0
    for where, names in sorted(references(root).items()):
        total += len(names)
        for name in sorted(names):
            if name not in exported_names and base_name(name) not in exported_names:
                errors.append(f"{where}: {name} is not exported by any service")
    for where, names in sorted(references(root, REDIS_REFERENCED).items()):
        total += len(names)
        for name in sorted(names - REDIS_EXPORTER):
            errors.append(f"{where}: {name} is not exported by {REDIS_EXPORTER_IMAGE}")
    for where, images in sorted(exporter_images(root).items()):
        for image in sorted(images - {REDIS_EXPORTER_IMAGE}):
            errors.append(
                f"{where}: runs {image}, but the redis_ metric names are checked against"
                f" {REDIS_EXPORTER_IMAGE} (metric_names.py)"
            )
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 1
    print(
        f"metrics: {total} references to {len(exported_names)} metrics of the services and"
        f" {len(REDIS_EXPORTER)} of {REDIS_EXPORTER_IMAGE}, all defined"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
