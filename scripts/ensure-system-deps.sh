#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (a real redis-server for shared rate limits).
# Node 22 comes from the `node` npm package in devDependencies, so `npm install` brings it.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "tollgate: the tests need: ${need[*]}. Install them (apt-get install ${need[*]}) and run again." >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "tollgate: installing ${need[*]} for the test suite" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package starts a system service on 6379; the tests start their own servers on ephemeral ports.
($SUDO service redis-server stop >/dev/null 2>&1 || true)
