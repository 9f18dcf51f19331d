"""`make doctor` names every prerequisite and says exactly what to install for a missing one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCTOR = REPO / "deploy/local/doctor.sh"


def _run(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DOCTOR)],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )


def test_this_machine_has_every_prerequisite() -> None:
    done = _run(os.environ["PATH"])
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("python3", "java", "maven", "node", "go", "uv", "redis-server", "chromium"):
        assert name in done.stdout


def test_an_old_node_and_a_missing_go_are_named_with_what_to_install(tmp_path: Path) -> None:
    # A PATH where node is Debian 12's 18.19 and go does not exist; everything else is real.
    shims = tmp_path / "bin"
    shims.mkdir()
    for tool in os.environ["PATH"].split(os.pathsep):
        for entry in Path(tool).glob("*") if Path(tool).is_dir() else []:
            target = shims / entry.name
            if entry.name not in ("node", "go") and not target.exists():
                target.symlink_to(entry)
    node = shims / "node"
    node.write_text("#!/bin/sh\necho v18.19.0\n")
    node.chmod(0o755)
    assert shutil.which("go", path=str(shims)) is None
    done = _run(str(shims))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any("node" in line and "18.19.0 is too old (need 20.19)" in line for line in lines)
    assert any(line.split()[0] == "go" and "missing (need 1.26)" in line for line in lines)
    assert "2 prerequisite(s) to install first" in done.stderr
