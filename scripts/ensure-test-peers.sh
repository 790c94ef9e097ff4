#!/usr/bin/env bash
# Installs the real third-party programs the tests run against, once.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

COMMERCETOOLS_VERSION=2026.10.12

if [ ! -x .venv/bin/python ]; then
  # A fresh Debian machine may lack python3-venv (ensurepip): the system
  # dependencies script installs it.
  if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    scripts/ensure-system-deps.sh
  fi
  echo "creating .venv, the virtualenv of the Python test peers ..." >&2
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import commercetools" 2>/dev/null \
   || [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("commercetools"))')" != "$COMMERCETOOLS_VERSION" ]; then
  echo "installing commercetools==$COMMERCETOOLS_VERSION into .venv (the SDK end-to-end tests run it) ..." >&2
  .venv/bin/pip install --quiet "commercetools==$COMMERCETOOLS_VERSION"
fi

# DuckDB reads the Parquet and NDJSON files of `payledger export` back in
# the export tests.
DUCKDB_VERSION=2.0.0
if [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("duckdb"))' 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
  echo "installing duckdb==$DUCKDB_VERSION into .venv (the export tests read Parquet with it) ..." >&2
  .venv/bin/pip install --quiet "duckdb==$DUCKDB_VERSION"
fi

# The Prometheus text parser of the /metrics end-to-end test.
PROMETHEUS_CLIENT_VERSION=0.26.0
if [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("prometheus-client"))' 2>/dev/null)" != "$PROMETHEUS_CLIENT_VERSION" ]; then
  echo "installing prometheus-client==$PROMETHEUS_CLIENT_VERSION into .venv (the /metrics test parses with it) ..." >&2
  .venv/bin/pip install --quiet "prometheus-client==$PROMETHEUS_CLIENT_VERSION"
fi

# yamllint, kubernetes-validate and check-jsonschema: `make deploy-check`
# validates deploy/ with them.
scripts/ensure-deploy-tools.sh

# openapi-spec-validator checks deploy/openapi.yaml, and its
# openapi-schema-validator checks real answers against the document's
# schemas (tests/openapi/check.py); PyYAML reads the document.
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
OPENAPI_SCHEMA_VALIDATOR_VERSION=0.9.0
PYYAML_VERSION=6.0.3
if [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"), m.version("openapi-schema-validator"), m.version("PyYAML"))' 2>/dev/null)" \
     != "$OPENAPI_SPEC_VALIDATOR_VERSION $OPENAPI_SCHEMA_VALIDATOR_VERSION $PYYAML_VERSION" ]; then
  echo "installing openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION into .venv (the OpenAPI tests validate the document and answers with it) ..." >&2
  .venv/bin/pip install --quiet "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
    "openapi-schema-validator==$OPENAPI_SCHEMA_VALIDATOR_VERSION" "PyYAML==$PYYAML_VERSION"
fi

# The Kafka-protocol broker of the relay's end-to-end tests.
scripts/ensure-tansu.sh

# Headless Chromium and chromedriver for the hosted payment page tests.
scripts/ensure-browser.sh

# localstripe, the Stripe emulator of the PSP tests (tests/stripe/ serves
# it on 127.0.0.1).
LOCALSTRIPE_VERSION=1.15.10
if [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("localstripe"))' 2>/dev/null)" != "$LOCALSTRIPE_VERSION" ]; then
  echo "installing localstripe==$LOCALSTRIPE_VERSION into .venv (the Stripe emulator of the PSP tests) ..." >&2
  .venv/bin/pip install --quiet "localstripe==$LOCALSTRIPE_VERSION"
fi

# schemathesis, the schema-driven API tester: tests/e2e/schemathesis.rs runs
# it against the document the server serves at GET /openapi.json.
SCHEMATHESIS_VERSION=4.32.5
if [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
  echo "installing schemathesis==$SCHEMATHESIS_VERSION into .venv (the schema-driven API tests run it) ..." >&2
  .venv/bin/pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi
