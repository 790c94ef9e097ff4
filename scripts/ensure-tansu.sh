#!/usr/bin/env bash
# Installs tansu, the Kafka-protocol broker the Kafka end-to-end tests start,
# into ~/.cargo/bin. A cold install compiles for 10-18 minutes on two cores;
# it happens once.
#
# The check tests the binary the tests run (tests/lib.rs `tansu_bin`:
# $PAYLEDGER_TANSU, else the first `tansu` on PATH, else ~/.cargo/bin/tansu)
# and asks it for its version, so a different tansu earlier on PATH is
# noticed instead of hiding behind a correct one in ~/.cargo/bin.
set -euo pipefail

TANSU_VERSION=0.6.0
# dynostore gives memory:// storage, libsql gives sqlite:// (durable).
TANSU_FEATURES=dynostore,libsql
CARGO_DIR="${CARGO_HOME:-$HOME/.cargo}"
CARGO_BIN="$CARGO_DIR/bin"

# The tansu the tests would run, or nothing.
resolve() {
  if [ -n "${PAYLEDGER_TANSU:-}" ]; then
    printf '%s\n' "$PAYLEDGER_TANSU"
  elif command -v tansu 2>/dev/null; then
    :
  elif [ -x "$CARGO_BIN/tansu" ]; then
    printf '%s\n' "$CARGO_BIN/tansu"
  else
    return 1
  fi
}

# Whether cargo's install record of tansu names both storage features.
installed_with_features() {
  local record="$CARGO_DIR/.crates2.json"
  [ -f "$record" ] || return 1
  local entry
  entry=$(grep -o "\"tansu $TANSU_VERSION [^}]*" "$record" || true)
  [[ "$entry" == *'"dynostore"'* && "$entry" == *'"libsql"'* ]]
}

if tansu=$(resolve); then
  version=$("$tansu" --version 2>/dev/null || true)
  if [ "$version" = "tansu $TANSU_VERSION" ]; then
    if [ "$tansu" != "$CARGO_BIN/tansu" ] || installed_with_features; then
      exit 0
    fi
    echo "$tansu lacks the storage features $TANSU_FEATURES; reinstalling" >&2
  elif [ "$tansu" != "$CARGO_BIN/tansu" ]; then
    echo "error: the tests would run $tansu, which reports '${version:-nothing}'," >&2
    echo "not 'tansu $TANSU_VERSION'; remove it from PATH or set PAYLEDGER_TANSU" >&2
    exit 1
  else
    echo "$tansu reports '${version:-nothing}', not 'tansu $TANSU_VERSION'; reinstalling" >&2
  fi
fi

echo "installing tansu $TANSU_VERSION into $CARGO_BIN for the Kafka tests (once; 10-18 minutes) ..." >&2
cargo install tansu --version "$TANSU_VERSION" --locked --force --features "$TANSU_FEATURES"

tansu=$(resolve) || { echo "error: tansu is still not found after installing it" >&2; exit 1; }
version=$("$tansu" --version 2>/dev/null || true)
if [ "$version" != "tansu $TANSU_VERSION" ]; then
  echo "error: after installing, $tansu reports '${version:-nothing}', not 'tansu $TANSU_VERSION'" >&2
  exit 1
fi
