#!/usr/bin/env bash
# Installs the real third-party programs the tests run against, once.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

COMMERCETOOLS_VERSION=2026.10.12

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import commercetools" 2>/dev/null \
   || [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("commercetools"))')" != "$COMMERCETOOLS_VERSION" ]; then
  echo "installing commercetools==$COMMERCETOOLS_VERSION into .venv ..." >&2
  .venv/bin/pip install --quiet "commercetools==$COMMERCETOOLS_VERSION"
fi
