"""schemathesis against the running service's own OpenAPI document.

It runs on a database of its own: generated usernames cannot carry a uuid, and a fuzzer's users
have no place among the shared tables other tests read.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from auth_harness import AuthProcess, KeyFiles, service_settings
from chat_testing.api_fuzz import schemathesis_command, schemathesis_environment
from chat_testing.databases import migrated_database

# A fixed seed keeps a failure reproducible with the same command.
SEED = 20261125


@pytest.fixture(scope="module")
def scratch_database_url(database_url: str) -> Iterator[str]:
    with migrated_database(database_url, "auth_fuzz") as url:
        yield url


@pytest.fixture(scope="module")
def fuzzed_service(
    scratch_database_url: str,
    redis_url: str,
    key_files: KeyFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthProcess]:
    settings = service_settings(
        database_url=scratch_database_url,
        redis_url=redis_url,
        key_file=key_files.current,
        previous_key_file=key_files.previous,
    )
    # The fuzzer comes from one address; let it reach the handlers, not only the throttles.
    for limit in (
        "LOGIN_FAILURES_PER_IP",
        "LOGIN_FAILURES_PER_USER_ADDRESS",
        "REGISTRATIONS_PER_IP",
    ):
        settings[f"CHAT_AUTH_{limit}"] = "100000"
    service = AuthProcess(settings, tmp_path_factory.mktemp("fuzz") / "auth.log")
    yield service
    service.stop()


def test_the_api_keeps_its_openapi_promises_under_generated_input(
    fuzzed_service: AuthProcess, tmp_path: Path
) -> None:
    run = subprocess.run(
        schemathesis_command(f"{fuzzed_service.url}/openapi.json", seed=SEED),
        cwd=tmp_path,
        env=schemathesis_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"{report}\n--- service log ---\n{fuzzed_service.log_tail()}"
    assert "8 selected / 8 total" in report
    assert "No issues found" in report
