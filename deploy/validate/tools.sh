# The validation tools of deploy/validate, installed when missing from the package registries
# (Go module proxy, npm registry; the Python ones come with the workspace's dev group) into
# ~/.cache/chat/tools. Validation itself runs offline from these files.
# shellcheck shell=bash

# Pinned: a new version is a deliberate change here, never a surprise at test time.
KUSTOMIZE_VERSION=v5.8.1
KUBECONFORM_VERSION=v0.8.0
# The operators whose custom resources k8s/ uses; their Go modules carry the CRDs.
CNPG_MODULE=github.com/cloudnative-pg/cloudnative-pg@v1.28.1
PROMETHEUS_OPERATOR_MODULE=github.com/prometheus-operator/prometheus-operator@v0.85.0

TOOLS="$CACHE/tools"
# The machine's own Go; never a downloaded toolchain.
export GOTOOLCHAIN=local

# go_tool NAME PACKAGE VERSION: the path of the installed binary, installing it when missing.
go_tool() {
  local name=$1 package=$2 version=$3
  local dir="$TOOLS/$name-$version"
  if [[ ! -x $dir/$name ]]; then
    say "installing $name $version (Go module proxy)" >&2
    command -v go >/dev/null || fail "go is needed to install $name"
    GOBIN="$dir" go install "$package@$version" >&2 || fail "could not install $name $version"
  fi
  printf '%s\n' "$dir/$name"
}

kustomize_bin() { go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"; }
kubeconform_bin() { go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"; }

# composecheck: the Compose Specification's own loader (deploy/validate/composecheck).
composecheck_bin() {
  local source="$ROOT/deploy/validate/composecheck"
  local key
  key=$(cat "$source/go.mod" "$source/go.sum" "$source/main.go" | sha256sum | cut -c1-12)
  local bin="$TOOLS/composecheck-$key/composecheck"
  if [[ ! -x $bin ]]; then
    say "building composecheck (compose-go from the Go module proxy)" >&2
    (cd "$source" && go build -o "$bin" .) >&2 || fail "could not build composecheck"
  fi
  printf '%s\n' "$bin"
}

# module_dir MODULE@VERSION: where the Go module cache holds that module's files.
module_dir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -n $dir && -d $dir ]] || fail "could not download $1"
  printf '%s\n' "$dir"
}

# crd_schemas: a folder of JSON schemas, one per custom resource kind and version, made from
# the operators' CRDs (deploy/validate/crd_schemas.py).
crd_schemas() {
  local key
  key=$(printf '%s %s\n' "$CNPG_MODULE" "$PROMETHEUS_OPERATOR_MODULE" |
    cat - "$ROOT/deploy/validate/crd_schemas.py" | sha256sum | cut -c1-12)
  local out="$TOOLS/crd-schemas-$key"
  if [[ ! -f $out/.complete ]]; then
    say "making custom resource schemas from the CloudNativePG and Prometheus Operator CRDs" >&2
    local cnpg po
    cnpg=$(module_dir "$CNPG_MODULE")/config/crd/bases
    po=$(module_dir "$PROMETHEUS_OPERATOR_MODULE")/example/prometheus-operator-crd
    rm -rf "$out"
    "$PYTHON" "$ROOT/deploy/validate/crd_schemas.py" "$out" \
      "$cnpg"/postgresql.cnpg.io_*.yaml "$po"/monitoring.coreos.com_*.yaml >&2 ||
      fail "could not make the CRD schemas"
    touch "$out/.complete"
  fi
  printf '%s\n' "$out"
}

# The Strimzi validator's npm packages, installed when missing or older than their lock.
strimzi_validator() {
  local dir="$ROOT/deploy/validate/strimzi"
  if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    say "installing the Strimzi schemas (npm registry)" >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2 || fail "npm ci failed in $dir"
  fi
  printf '%s\n' "$dir/validate.mjs"
}
