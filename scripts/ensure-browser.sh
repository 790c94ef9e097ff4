#!/usr/bin/env bash
# Installs the headless browser the hosted payment page tests drive:
# Debian's `chromium` and `chromium-driver` (chromedriver, its WebDriver
# server), when missing. Only `make test` needs them; `make run` does not.
#
# The check looks for exactly the commands the tests start: `chromium` and
# `chromedriver` on PATH (tests/e2e/browser.rs runs them by these names),
# and asks chromedriver for its version so a broken install is noticed.
#
# Environment: PAYLEDGER_APT_GET, the installer run instead of apt-get
# (also when not root).
set -euo pipefail

check() {
  local status=0
  if ! command -v chromium >/dev/null 2>&1; then
    echo "missing chromium: the payment page tests run headless Chromium; not on PATH"
    status=1
  fi
  if ! command -v chromedriver >/dev/null 2>&1 || ! chromedriver --version >/dev/null 2>&1; then
    echo "missing chromium-driver: the payment page tests drive Chromium through chromedriver; not on PATH or not runnable"
    status=1
  fi
  return $status
}

if report=$(check); then
  exit 0
fi
# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
install_reported "$report" --no-install-recommends || exit 1
packages=$INSTALLED_PACKAGES
if ! report=$(check); then
  echo "$report" >&2
  echo "error: still missing after apt-get install $packages" >&2
  exit 1
fi
echo "installed $packages" >&2
