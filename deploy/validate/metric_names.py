"""Checks that every metric the dashboards, alerts, adapter rules and HPAs name is exported.

The exported names are read from the services' metrics modules (the names given to
prometheus_client; counters gain `_total`, histograms `_bucket`, `_sum` and `_count`) plus the
process collectors every service registers. A renamed metric fails here, not on a blank graph.

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


def exported(root: Path) -> set[str]:
    names = set(PROCESS)
    for module in root.glob("services/*/src/*/metrics.py"):
        names |= {match.group(2) for match in DEFINED.finditer(module.read_text())}
    return names


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


def references(root: Path) -> dict[str, set[str]]:
    """Metric names referenced, by the file that references them."""
    found: dict[str, set[str]] = {}
    sources: list[tuple[Path, Any]] = [
        (path, json.loads(path.read_text())) for path in root.glob(f"{MONITORING}/*.json")
    ]
    for pattern in (f"{MONITORING}/*.yaml", "k8s/base/*.yaml"):
        for path in root.glob(pattern):
            sources.append((path, list(yaml.safe_load_all(path.read_text()))))
    for path, document in sources:
        names = {m for text in strings(document) for m in REFERENCED.findall(text)}
        if names:
            found[str(path.relative_to(root))] = names
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1])
    known = exported(root)
    errors = []
    total = 0
    for where, names in sorted(references(root).items()):
        total += len(names)
        for name in sorted(names):
            if name not in known and base_name(name) not in known:
                errors.append(f"{where}: {name} is not exported by any service")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"metrics: {total} references to {len(known)} exported metrics, all defined")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
