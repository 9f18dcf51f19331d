"""Turns CustomResourceDefinitions into the JSON schemas kubeconform reads.

One file per served version, ``<group>/<kind>_<version>.json`` (lower case), from the CRD's
``openAPIV3Schema``. Strict like the API server's field validation: an object that lists its
properties refuses others, unless the CRD preserves unknown fields there.

Usage: crd_schemas.py OUTPUT_DIR CRD_FILE...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]


class _CrdLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML 1.1 reads a bare `=` as a special value; in CRDs it is only ever a string."""


_CrdLoader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
)


def strict(schema: Any) -> Any:
    """The schema with Kubernetes' OpenAPI extensions made explicit in JSON Schema terms."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        for key in ("type", "format"):
            out.pop(key, None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = out.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def convert(crd: dict[str, Any], output: Path) -> list[Path]:
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    written = []
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = strict(version["schema"]["openAPIV3Schema"])
        schema["$schema"] = "http://json-schema.org/draft-07/schema#"
        path = output / group.lower() / f"{kind.lower()}_{version['name'].lower()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=1))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    output = Path(argv[1])
    count = 0
    for name in argv[2:]:
        for document in yaml.load_all(Path(name).read_text(), Loader=_CrdLoader):
            if document and document.get("kind") == "CustomResourceDefinition":
                count += len(convert(document, output))
    if not count:
        print("no CustomResourceDefinition found", file=sys.stderr)
        return 1
    print(f"{count} schemas in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
