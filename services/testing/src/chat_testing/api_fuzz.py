"""schemathesis over a service's OpenAPI document, run the same way by every service's tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# "No 5xx, responses conform": every documented status, content type, header and body schema,
# and input the document forbids must never be accepted.
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)
# Bounded: a few examples per operation plus schemathesis' coverage phase, seconds per document.
EXAMPLES_PER_OPERATION = 15


def schemathesis_command(schema: str, *, seed: int, options: Sequence[str] = ()) -> list[str]:
    """The command line of one bounded run over ``schema`` (a URL or a file; ``options`` such as
    ``--url`` and ``--header`` for a file). A fixed ``seed`` keeps a failure reproducible with
    the same command."""
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        schema,
        *options,
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "10",
    ]


def schemathesis_environment() -> dict[str, str]:
    """The test's environment without colours, so its report reads as plain text."""
    return {**os.environ, "NO_COLOR": "1"}
