"""schemathesis against a real gateway's HTTP routes from their OpenAPI documents in
docs/protocol/, signed in with a real token: no 5xx, and every response as documented.

The documents' operations only change the fuzzing person's own memberships (join, leave, a
direct message started with someone) or a room they are staff of, so it runs on the shared
system like every other test of this suite.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chat_testing.api_fuzz import schemathesis_command, schemathesis_environment
from chat_testing.processes import ServiceProcess
from gateway_harness import ChatSystem, FileGateways

pytestmark = pytest.mark.asyncio(loop_scope="session")

DOCUMENTS = Path(__file__).resolve().parents[3] / "docs" / "protocol"
# A fixed seed keeps a failure reproducible with the same command.
SEED = 20261130


@pytest.mark.parametrize(
    ("document", "operations"),
    [("openapi.yaml", 4), ("people.openapi.yaml", 3), ("search.openapi.yaml", 1)],
)
async def test_the_http_routes_keep_their_documents_promises_under_generated_input(
    system: ChatSystem, tmp_path: Path, document: str, operations: int
) -> None:
    await _fuzz(system, system.gateways[0], tmp_path, document, operations)


async def test_the_attachment_routes_keep_their_document_s_promises_under_generated_input(
    system: ChatSystem, file_gateways: FileGateways, tmp_path: Path
) -> None:
    """On a gateway with an object store. The internal route is fuzzed with a person's token,
    which it refuses (401) whatever the body."""
    await _fuzz(system, file_gateways.gateways[0], tmp_path, "attachments.openapi.yaml", 3)


async def _fuzz(
    system: ChatSystem, gateway: ServiceProcess, tmp_path: Path, document: str, operations: int
) -> None:
    _, token = await system.user("fuzzer")
    run = await asyncio.create_subprocess_exec(
        *schemathesis_command(
            str(DOCUMENTS / document),
            seed=SEED,
            options=[
                "--url",
                system.http_url(gateway),
                "--header",
                f"Authorization: Bearer {token}",
            ],
        ),
        cwd=tmp_path,
        env=schemathesis_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await run.communicate()
    report = output.decode()
    assert run.returncode == 0, report
    assert f"{operations} selected / {operations} total" in report
    # Warnings (operations that found no room of the person's to work on) are not failures.
    assert "Failures:" not in report, report
