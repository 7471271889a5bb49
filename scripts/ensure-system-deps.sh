#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: a real redis-server (shared rate limits and MCP sessions)
# HAProxy (the load balancer in front of two gateway replicas in the scale test) and Chromium (the operator
# console's browser test, driven by puppeteer-core: browser downloads are not possible, Debian's build is used).
# Node 22 comes from the `node` npm package in devDependencies, so `npm install` brings it.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

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
# The packages start system services (redis on 6379, haproxy); the tests start their own on ephemeral ports.
($SUDO service redis-server stop >/dev/null 2>&1 || true)
($SUDO service haproxy stop >/dev/null 2>&1 || true)
