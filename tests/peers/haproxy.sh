#!/usr/bin/env bash
# HAProxy for the cluster tests (tests/Ferry.Interop.Tests/Cluster): Debian's package, checked
# against the configuration the documentation ships (docs/haproxy-two-nodes.cfg). The tests start
# HAProxy themselves, in the foreground on loopback, with that file and its variables set.
#
#   haproxy.sh install    installs the Debian package when missing (root; apt-get), then checks
#                         that docs/haproxy-two-nodes.cfg parses (haproxy -c) with sample values
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

installed() { dpkg-query -W -f='${Status}' haproxy 2>/dev/null | grep -q 'install ok installed'; }

install() {
  if ! installed; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "haproxy.sh: haproxy is missing; run '$0 install' as root" >&2
      exit 1
    fi
    echo "haproxy.sh: apt-get install haproxy"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends haproxy
  fi
  # The Debian package starts a system haproxy with /etc/haproxy/haproxy.cfg; the tests do not use it.
  LB_ADDRESS=127.0.0.10 LB_CONTROL_PORT=2100 NODE_A=127.0.0.1 NODE_B=127.0.0.1 \
    NODE_A_CONTROL_PORT=2101 NODE_B_CONTROL_PORT=2102 NODE_A_PASSIVE=50000-50009 NODE_B_PASSIVE=50010-50019 \
    haproxy -c -q -f docs/haproxy-two-nodes.cfg
}

case "${1:-}" in
  install) install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
