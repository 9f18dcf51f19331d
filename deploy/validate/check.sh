#!/usr/bin/env bash
# make k8s-check: validates everything that ships, offline, without Docker or a cluster.
#   1. kustomize build of every overlay in k8s/overlays;
#   2. built-in kinds strictly against the Kubernetes schemas (kubernetes-validate), for the
#      oldest and the newest Kubernetes version supported;
#   3. CloudNativePG and Prometheus Operator resources against schemas made from their CRDs
#      (kubeconform -strict); Strimzi resources against Strimzi's CRD schemas and types;
#   4. the project's own rules on the built manifests (manifests.py) and the metric names that
#      dashboards, alerts and autoscalers use (metric_names.py);
#   5. compose.yaml with the Compose Specification's loader (schema, references);
#   6. the Dockerfiles with hadolint and the project's rules (dockerfiles.py);
#   7. the nginx configurations of the web image with `nginx -t`.
# Tools are installed on first use (deploy/validate/tools.sh).
set -euo pipefail
source "$(dirname "$0")/../local/lib.sh"
source "$ROOT/deploy/validate/tools.sh"

# The oldest Kubernetes the manifests are written for, and the newest the schemas know.
KUBERNETES_VERSIONS=(1.31.0 1.37.0)
VENV="$ROOT/.venv/bin"
PYTHON="$VENV/python"
[[ -x $VENV/kubernetes-validate && -x $VENV/hadolint ]] ||
  fail "the workspace's dev tools are missing: make install"

started=$SECONDS
KUSTOMIZE=$(kustomize_bin)
KUBECONFORM=$(kubeconform_bin)
COMPOSECHECK=$(composecheck_bin)
SCHEMAS=$(crd_schemas)
STRIMZI=$(strimzi_validator)
if ((SECONDS - started > 2)); then say "tools ready in $((SECONDS - started))s"; fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for overlay in "$ROOT"/k8s/overlays/*/; do
  name=$(basename "$overlay")
  out="$WORK/$name"
  mkdir -p "$out"
  "$KUSTOMIZE" build "$overlay" >"$out/all.yaml" || fail "kustomize build k8s/overlays/$name failed"
  "$PYTHON" "$ROOT/deploy/validate/manifests.py" "$name" "$out/all.yaml" "$out"
  for version in "${KUBERNETES_VERSIONS[@]}"; do
    "$VENV/kubernetes-validate" --strict --quiet -k "$version" "$out/builtin.yaml" ||
      fail "k8s/overlays/$name: built-in kinds invalid for Kubernetes $version"
  done
  say "$name: built-in kinds valid for Kubernetes ${KUBERNETES_VERSIONS[*]}"
  if [[ -s $out/crds.yaml ]]; then
    "$KUBECONFORM" -strict -summary -output text \
      -schema-location "$SCHEMAS/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" \
      "$out/crds.yaml" | sed "s|^|$name: |" ||
      fail "k8s/overlays/$name: custom resources invalid against the operators' CRDs"
  fi
  if [[ $(cat "$out/strimzi.json") != "[]" ]]; then
    node "$STRIMZI" "$out/strimzi.json" | sed "s|^|$name: |" ||
      fail "k8s/overlays/$name: Strimzi resources invalid"
  fi
done

"$PYTHON" "$ROOT/deploy/validate/metric_names.py" "$ROOT"
"$COMPOSECHECK" "$ROOT/compose.yaml" | sed "s|$ROOT/||"
"$VENV/hadolint" --config "$ROOT/deploy/validate/hadolint.yaml" "$ROOT"/deploy/docker/*.Dockerfile ||
  fail "hadolint refused a Dockerfile"
"$PYTHON" "$ROOT/deploy/validate/dockerfiles.py" "$ROOT"
"$ROOT/deploy/validate/nginx-check.sh"

say "k8s-check passed in $((SECONDS - started))s"
