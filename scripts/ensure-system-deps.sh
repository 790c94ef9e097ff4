#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, when missing.
#
# Every check looks for exactly the file or command the build uses, never a
# look-alike: bindgen (through clang-sys) dlopens `libclang.so`,
# `libclang.so.<N>` or `libclang-<N>.so*` (`libclang-cpp.so.*`, the C++
# interface library, is not libclang and does not count); the cc crate
# compiles RocksDB with `c++` and C sources with `cc`; librdkafka's bundled
# build runs `./configure` (a shell script) and `make`; the test peers live in a
# virtualenv that `python3 -m venv` creates (it needs `ensurepip`).
#
# After installing, every check runs again and the script fails at once,
# before any compilation, naming what is still missing.
#
# Usage: ensure-system-deps.sh [--check]
#   --check   report only: one line per missing package on stdout
#             (`missing <package>: <why>`), exit status 1 when any is missing.
#
# Environment (the tests of these checks point them at prepared trees):
#   PAYLEDGER_DEPS_ROOT  directory the library directories are searched
#                        under (default: /)
#   PAYLEDGER_DEPS_PATH  the PATH commands are looked up in (default: $PATH)
#   PAYLEDGER_APT_GET    the installer run instead of apt-get (also when
#                        not root); it gets `update` and `install -y PKG…`
#   LIBCLANG_PATH        searched first, as clang-sys does
set -euo pipefail

root="${PAYLEDGER_DEPS_ROOT:-/}"
root="${root%/}"
search_path="${PAYLEDGER_DEPS_PATH:-$PATH}"

# The path of command $1 on the search path, or nothing.
find_command() {
  local dir
  local IFS=:
  for dir in $search_path; do
    if [ -n "$dir" ] && [ -f "$dir/$1" ] && [ -x "$dir/$1" ]; then
      printf '%s\n' "$dir/$1"
      return 0
    fi
  done
  return 1
}

# The directories clang-sys searches for libclang on Linux, in its order.
libclang_dirs() {
  if [ -n "${LIBCLANG_PATH:-}" ]; then
    printf '%s\n' "$LIBCLANG_PATH"
  fi
  local llvm_config
  if llvm_config=$(find_command llvm-config); then
    "$llvm_config" --libdir 2>/dev/null || true
  fi
  local dir
  for dir in "$root"/usr/local/llvm*/lib* "$root"/usr/local/lib* \
             "$root"/usr/lib/llvm*/lib "$root"/usr/lib* "$root"/usr/lib*/*-linux-gnu; do
    [ -d "$dir" ] && printf '%s\n' "$dir"
  done
  return 0
}

# The first libclang shared library bindgen would load, or nothing.
find_libclang() {
  local dir file name
  while IFS= read -r dir; do
    for file in "$dir"/libclang.so "$dir"/libclang.so.* "$dir"/libclang-[0-9]*.so*; do
      [ -e "$file" ] || continue
      name="${file##*/}"
      case "$name" in
        libclang-cpp*) continue ;;
      esac
      printf '%s\n' "$file"
      return 0
    done
  done < <(libclang_dirs)
  return 1
}

# Prints `missing <package>: <why>` for every package whose file or command
# is absent; the status is 1 when any is.
check() {
  local status=0
  if ! find_libclang >/dev/null; then
    echo "missing libclang-dev: bindgen (rocksdb crate) loads libclang.so, libclang.so.<N> or libclang-<N>.so*; none found"
    status=1
  fi
  if ! find_command c++ >/dev/null; then
    echo "missing g++: the cc crate compiles RocksDB's C++ with c++; not on PATH"
    status=1
  fi
  if ! find_command cc >/dev/null; then
    echo "missing gcc: the cc crate and librdkafka's build compile C with cc; not on PATH"
    status=1
  fi
  if ! find_command make >/dev/null; then
    echo "missing make: librdkafka's bundled build runs make; not on PATH"
    status=1
  fi
  if ! find_command curl >/dev/null; then
    echo "missing curl: the README walk-through (tested by make test) runs curl; not on PATH"
    status=1
  fi
  local python
  if ! python=$(find_command python3); then
    echo "missing python3-venv: the test peers need python3 -m venv; python3 is not on PATH"
    status=1
  elif ! "$python" -c "import venv, ensurepip" 2>/dev/null; then
    echo "missing python3-venv: $python cannot import venv and ensurepip, which python3 -m venv needs"
    status=1
  fi
  return $status
}

if [ "${1:-}" = "--check" ]; then
  check
  exit $?
fi

if report=$(check); then
  exit 0
fi

# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
install_reported "$report" || exit 1
packages=$INSTALLED_PACKAGES

if ! report=$(check); then
  echo "$report" >&2
  echo "error: still missing after apt-get install $packages; the build would fail, so it does not start" >&2
  exit 1
fi
echo "installed $packages" >&2
