#!/usr/bin/env bash
# Installs the Debian packages the build needs, when they are missing.
# Idempotent: does nothing when everything is present.
set -euo pipefail

missing=()
# The rocksdb crate runs bindgen, which needs libclang.
if ! compgen -G "/usr/lib/llvm-*/lib/libclang*.so*" >/dev/null \
   && ! compgen -G "/usr/lib/x86_64-linux-gnu/libclang*.so*" >/dev/null; then
  missing+=(libclang-dev)
fi
# librdkafka (bundled) and rocksdb are built from C/C++ sources.
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
# The test peers (commercetools SDK) live in a Python virtualenv.
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "payledger needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
