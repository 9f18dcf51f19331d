"""Every service of the system runs on uvloop, and says so at start-up."""

from __future__ import annotations

import pytest

from gateway_harness import ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_gateways_and_the_auth_service_run_on_uvloop(system: ChatSystem) -> None:
    for process in [system.auth, *system.gateways]:
        log = process.log_path.read_text(errors="replace")
        assert "event loop loop=uvloop.Loop" in log, f"{process.name} is not on uvloop"
