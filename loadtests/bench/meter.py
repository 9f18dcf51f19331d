"""CPU time and resident memory of the processes that make up a system, by group: the servers
themselves, the balancer, and the infrastructure they lean on (Redis, Kafka, Postgres, ...).

CPU is user + system time, the reaped children's included, summed over each group's processes and
their live descendants; a difference of two samples is the CPU a group spent in between.
"""

from __future__ import annotations

from collections.abc import Iterator

import psutil


class Meter:
    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def cpu_seconds(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for name, pids in self.groups.items():
            total = 0.0
            for process in _with_descendants(pids):
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue  # it ended between the listing and the reading
                total += times.user + times.system + times.children_user + times.children_system
            totals[name] = total
        return totals

    def rss_bytes(self, group: str) -> int:
        total = 0
        for process in _with_descendants(self.groups.get(group, [])):
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total


def _with_descendants(pids: list[int]) -> Iterator[psutil.Process]:
    seen: set[int] = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for process in family:
            if process.pid not in seen:
                seen.add(process.pid)
                yield process


def shared_infrastructure() -> dict[str, list[int]]:
    """The local stack's Kafka broker and Postgres server, which other work may share."""
    kafka: list[int] = []
    postgres: list[int] = []
    for process in psutil.process_iter(["name", "cmdline", "ppid"]):
        info = process.info
        cmdline = info.get("cmdline") or []
        if info.get("name") == "java" and "kafka.Kafka" in cmdline:
            kafka.append(process.pid)
        elif info.get("name") == "postgres":
            try:
                parent = psutil.Process(info["ppid"]).name()
            except psutil.Error:
                parent = ""
            if parent != "postgres":
                postgres.append(process.pid)
    return {"kafka": kafka, "postgres": postgres}
