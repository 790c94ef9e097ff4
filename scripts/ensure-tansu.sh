#!/usr/bin/env bash
# Installs tansu, the Kafka-protocol broker the Kafka end-to-end tests start,
# into ~/.cargo/bin. Idempotent: does nothing when tansu is already there.
# A cold install compiles for 10-18 minutes on two cores; it happens once.
set -euo pipefail

TANSU_VERSION=0.6.0
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

if command -v tansu >/dev/null 2>&1 || [ -x "$CARGO_BIN/tansu" ]; then
  exit 0
fi

echo "installing tansu $TANSU_VERSION into $CARGO_BIN (once; 10-18 minutes) ..." >&2
# dynostore gives memory:// storage, libsql gives sqlite:// (durable).
cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql
