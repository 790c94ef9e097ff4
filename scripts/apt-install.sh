# Sourced by the ensure-*.sh scripts: installs the Debian packages a check
# reported missing. A report has one line per package:
# `missing <package>: <why>`.
#
# install_reported REPORT [apt-get install options…]
#   Prints the report, then installs its packages with apt-get (or
#   $PAYLEDGER_APT_GET, which the tests of these scripts set; it also runs
#   when not root). Not root and no installer: says how to install them and
#   returns 1. The caller checks again afterwards.

install_reported() {
  local report=$1
  shift
  echo "$report" >&2
  local packages
  packages=$(printf '%s\n' "$report" | sed -n 's/^missing \([^:]*\):.*/\1/p' | sort -u | tr '\n' ' ')
  local apt_get="${PAYLEDGER_APT_GET:-apt-get}"
  if [ -z "${PAYLEDGER_APT_GET:-}" ] && [ "$(id -u)" -ne 0 ]; then
    echo "payledger needs these Debian packages: $packages" >&2
    echo "Install them with: sudo apt-get install -y $packages" >&2
    return 1
  fi
  echo "installing $packages(apt-get, for the reasons above) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  "$apt_get" update -qq
  # shellcheck disable=SC2086 # one word per package
  "$apt_get" install -y -qq "$@" $packages >/dev/null
  INSTALLED_PACKAGES=$packages
}
