"""Checks the Dockerfiles of deploy/docker for what a linter does not know about this project.

- every base image is pinned to an exact version (x.y.z tag) or a digest, never `latest`;
- the final stage runs as a named non-root user (USER set, not root or 0);
- no ENV or ARG carries a secret-looking value, no key or certificate file is copied in;
- a Python service image installs only its package from the lock: `uv sync --locked
  --package <name> --no-dev --no-editable`, after copying every workspace member's
  pyproject.toml (which `--locked` needs) and only the sources of that package and the
  packages it depends on in the workspace;
- .dockerignore keeps local state, keys and installed packages out of the build context.

Usage: dockerfiles.py REPOSITORY_ROOT
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PINNED_TAG = re.compile(r":[A-Za-z]*\d+\.\d+\.\d+[\w.-]*$")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_KEY)", re.IGNORECASE)
KEY_FILE = re.compile(r"\.(pem|key|crt|p12|pfx)\b|(^|\s)\.env\b")
IGNORED_REQUIRED = [".run/", "**/.venv", "**/node_modules", "**/*.pem", "**/*.key", "**/.env"]


@dataclass
class Stage:
    base: str
    alias: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(text: str) -> list[Stage]:
    """Instructions with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--")]
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], alias))
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def workspace(root: Path) -> dict[str, tuple[Path, set[str]]]:
    """Package name → (its folder, the workspace packages it depends on)."""
    members: dict[str, tuple[Path, set[str]]] = {}
    for pyproject in sorted(root.glob("services/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        requirements = {
            re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0] for d in project.get("dependencies", [])
        }
        members[project["name"]] = (pyproject.parent.relative_to(root), requirements)
    for name, (folder, requirements) in members.items():
        members[name] = (folder, requirements & members.keys())
    return members


def check_python_image(
    where: str, stages: list[Stage], members: dict[str, tuple[Path, set[str]]]
) -> list[str]:
    errors: list[str] = []
    runs = [rest for stage in stages for keyword, rest in stage.instructions if keyword == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    packages = {m.group(1) for r in syncs if (m := re.search(r"--package\s+(\S+)", r))}
    if len(packages) != 1:
        return [f"{where}: expected `uv sync --package <one package>`, found {sorted(packages)}"]
    package = packages.pop()
    if package not in members:
        return [f"{where}: {package} is no package of the workspace"]
    for sync in syncs:
        for flag in ("--locked", "--no-dev", "--no-editable"):
            if flag not in sync:
                errors.append(f"{where}: `uv sync` without {flag}")
    copies = [rest for stage in stages for keyword, rest in stage.instructions if keyword == "COPY"]
    sources = {word for copy in copies for word in copy.split()[:-1] if not word.startswith("--")}
    for folder, _ in members.values():
        if f"{folder}/pyproject.toml" not in sources:
            errors.append(
                f"{where}: does not copy {folder}/pyproject.toml (uv sync --locked needs it)"
            )
    wanted = {package} | members[package][1]
    for name, (folder, _) in members.items():
        copied = f"{folder}/" in sources or str(folder) in sources
        if name in wanted and not copied:
            errors.append(f"{where}: does not copy the sources of {name} ({folder})")
        if name not in wanted and copied:
            errors.append(f"{where}: copies {folder}, which {package} does not use")
    return errors


def check_dockerfile(
    root: Path, path: Path, members: dict[str, tuple[Path, set[str]]]
) -> list[str]:
    where = str(path.relative_to(root))
    stages = parse(path.read_text())
    if not stages:
        return [f"{where}: no FROM"]
    errors: list[str] = []
    aliases = {stage.alias for stage in stages if stage.alias}
    for stage in stages:
        if stage.base in aliases:
            continue
        if "@sha256:" not in stage.base and not PINNED_TAG.search(stage.base):
            errors.append(f"{where}: base image {stage.base} is not pinned to an exact version")
    final = stages[-1]
    users = [rest for keyword, rest in final.instructions if keyword == "USER"]
    if not users:
        errors.append(f"{where}: the final stage sets no USER (it would run as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        errors.append(f"{where}: the final stage runs as root")
    for stage in stages:
        for keyword, rest in stage.instructions:
            if keyword in ("ENV", "ARG"):
                for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=\S+", rest):
                    if SECRET_NAME.search(name):
                        errors.append(f"{where}: {keyword} {name} bakes a secret into the image")
            if keyword in ("COPY", "ADD") and KEY_FILE.search(rest):
                errors.append(f"{where}: {keyword} {rest} copies a key or credentials file")
    if any("uv sync" in rest for stage in stages for _, rest in stage.instructions):
        errors += check_python_image(where, stages, members)
    return errors


def check_dockerignore(root: Path) -> list[str]:
    path = root / ".dockerignore"
    if not path.exists():
        return [".dockerignore is missing"]
    patterns = {line.strip() for line in path.read_text().splitlines()}
    return [f".dockerignore does not exclude {p}" for p in IGNORED_REQUIRED if p not in patterns]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1])
    members = workspace(root)
    dockerfiles = sorted((root / "deploy/docker").glob("*.Dockerfile"))
    errors = check_dockerignore(root)
    for path in dockerfiles:
        errors += check_dockerfile(root, path, members)
    python_images = {p.name.removesuffix(".Dockerfile") for p in dockerfiles} - {"web"}
    # Libraries, not services: common goes into every image, testing into none.
    services = {folder.name for folder, _ in members.values()} - {"common", "testing"}
    for missing in sorted(services - python_images):
        errors.append(f"services/{missing} has no image in deploy/docker")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"dockerfiles: {len(dockerfiles)} pinned, non-root, locked and minimal")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
