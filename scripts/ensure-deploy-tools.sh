#!/usr/bin/env bash
# Installs the pinned validators of `make deploy-check` into .venv, once.
# Idempotent: a second run only compares installed versions with the pins.
#
#   yamllint             lints every YAML file under deploy/
#   kubernetes-validate  validates deploy/kubernetes/ against the Kubernetes
#                        OpenAPI schemas it ships (no network needed)
#   check-jsonschema     validates deploy/compose.yaml against the Compose
#                        Specification schema it ships (vendor.compose-spec)
set -euo pipefail
cd "$(dirname "$0")/.."

PINS=(
  "yamllint==1.38.0"
  "kubernetes-validate==1.37.0"
  "check-jsonschema==0.39.0"
)

if [ ! -x .venv/bin/python ]; then
  if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    echo "error: python3 -m venv is unavailable; install python3-venv (apt-get install python3-venv)" >&2
    exit 1
  fi
  echo "creating .venv, the virtualenv of the Python test tools ..." >&2
  python3 -m venv .venv
fi

missing=()
for pin in "${PINS[@]}"; do
  name="${pin%%==*}"
  want="${pin##*==}"
  have=$(.venv/bin/python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" \
           "$name" 2>/dev/null || true)
  if [ "$have" != "$want" ]; then
    missing+=("$pin")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} into .venv (make deploy-check validates deploy/ with them) ..." >&2
  .venv/bin/pip install --quiet "${missing[@]}"
fi
