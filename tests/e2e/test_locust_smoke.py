"""The locust scenario of `make loadtest`, for a few seconds with a handful of users, so it keeps
working: through nginx over https and wss against the real system, the users sign up, sign in,
chat, reconnect with `since`, and every acknowledged message comes back to its sender once."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from pathlib import Path

import pytest

from web_harness import REPO, WebSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")

USERS = 4


async def _locust(system: WebSystem, out: Path) -> tuple[int, str]:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(REPO / "loadtests/locustfile.py"),
        "--headless",
        "--only-summary",
        "--users",
        str(USERS),
        "--spawn-rate",
        str(USERS),
        "--run-time",
        "8s",
        "--host",
        system.origin,
        "--csv",
        str(out / "smoke"),
        "--html",
        str(out / "smoke.html"),
        # Busier than people, so a few seconds hold many sends and a reconnect per user.
        "--chat-think",
        "0.2:0.6",
        "--chat-reconnect",
        "0.15",
        "--chat-drain",
        "3",
        "--chat-summary",
        str(out / "tally.json"),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=REPO
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def _stats(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as rows:
        return {f"{row['Type']} {row['Name']}": row for row in csv.DictReader(rows)}


async def test_locust_users_chat_through_the_balancer(
    web_system: WebSystem, tmp_path: Path
) -> None:
    code, output = await _locust(web_system, tmp_path)

    assert code == 0, output[-4000:]
    tally = json.loads((tmp_path / "tally.json").read_text())
    assert tally["signed_in"] == USERS, tally
    assert tally["acked"] > USERS, tally
    assert tally["own_delivered"] == tally["acked"], tally
    assert (tally["lost"], tally["duplicates"], tally["gaps"]) == (0, 0, 0), tally
    assert tally["reconnects"] > 0, tally
    stats = _stats(tmp_path / "smoke_stats.csv")
    for name in ("POST /auth/v1/token", "WS connect", "WS send ack", "WS deliver own"):
        assert int(stats[name]["Request Count"]) > 0, (name, stats.keys())
        assert stats[name]["Failure Count"] == "0", stats[name]
    assert (tmp_path / "smoke.html").stat().st_size > 0
