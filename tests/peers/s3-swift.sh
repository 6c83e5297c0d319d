#!/usr/bin/env bash
# An S3-compatible store on loopback for the object-storage tests: OpenStack Swift (Debian's
# packages) with its s3api middleware, one replica, one device, everything under one directory.
#
#   s3-swift.sh install          installs the Debian packages when missing (root; apt-get)
#   s3-swift.sh start DIR PORT   S3 at http://127.0.0.1:PORT; uses PORT..PORT+4 (proxy, object,
#                                container, account, memcached); returns once every server answers
#   s3-swift.sh stop DIR         stops what `start DIR` started and removes DIR
#   s3-swift.sh kill-proxy DIR   kill -9 of the proxy alone (the store "goes away"; data is kept)
#   s3-swift.sh start-proxy DIR PORT   starts the proxy of DIR again; returns once it answers
#
# Credentials (Swift's tempauth): access key "test:tester", secret "testing"; region us-east-1;
# path-style addressing only (no wildcard DNS on loopback). Bucket names need 3 to 63 characters.
# Swift 2.30's s3api knows neither aws-chunked payloads nor checksum-only DeleteObjects: the client
# settings for it are in src/Ferry.Server/ObjectStorage/S3ClientFactory.cs.
set -euo pipefail

PACKAGES=(swift-proxy swift-object swift-container swift-account memcached)
# Debian's interpreter, where the swift modules are: a python3 earlier on PATH (pyenv, a venv) has none.
PYTHON=/usr/bin/python3

usage() { echo "usage: $0 install | start DIR PORT | stop DIR | kill-proxy DIR | start-proxy DIR PORT" >&2; exit 2; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install() {
  local missing=()
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "s3-swift.sh: missing ${missing[*]}; run '$0 install' as root" >&2
    exit 1
  fi
  echo "s3-swift.sh: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
}

stop() { # stop DIR
  local dir=$1 pid
  if [ -d "$dir/pid" ]; then
    for f in "$dir"/pid/*; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      kill "$pid" 2>/dev/null || true
    done
    # Wait for each to be gone (a server still writing under DIR would race the rm below).
    for f in "$dir"/pid/*; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
  fi
  rm -rf "$dir"
}

# answers URL: true when an HTTP GET of URL succeeds (curl when there, else Python's urllib).
answers() {
  if command -v curl >/dev/null 2>&1; then
    curl -fs -m 1 "$1" >/dev/null
  else
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null
  fi
}

start() { # start DIR PORT
  local dir=$1 port=$2
  local object=$((port + 1)) container=$((port + 2)) account=$((port + 3)) memcache=$((port + 4))
  for p in "${PACKAGES[@]}"; do
    installed "$p" || { echo "s3-swift.sh: $p is not installed (run '$0 install')" >&2; exit 1; }
  done
  stop "$dir"
  mkdir -p "$dir/srv/d1" "$dir/etc" "$dir/pid" "$dir/log"
  local user
  user=$(id -un)

  # One-replica rings with one device each, built with Swift's own RingBuilder (no swift-ring-builder
  # CLI dance): partition power 6 is plenty for tests.
  "$PYTHON" - "$dir/etc" "$object" "$container" "$account" <<'PY'
import sys
from swift.common.ring import RingBuilder
for name, port in zip(('object', 'container', 'account'), map(int, sys.argv[2:5])):
    builder = RingBuilder(6, 1, 1)
    builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'device': 'd1', 'weight': 1})
    builder.rebalance()
    builder.get_ring().save(f'{sys.argv[1]}/{name}.ring.gz')
PY

  local defaults="[DEFAULT]
bind_ip = 127.0.0.1
swift_dir = $dir/etc
devices = $dir/srv
mount_check = false
user = $user
workers = 0
log_level = WARNING"
  # Each back-end server gets the healthcheck filter too, so start can wait for all of them.
  local name server_port
  for name in object container account; do
    case $name in object) server_port=$object ;; container) server_port=$container ;; account) server_port=$account ;; esac
    cat > "$dir/etc/$name-server.conf" <<EOC
$defaults
bind_port = $server_port
[pipeline:main]
pipeline = healthcheck $name-server
[app:$name-server]
use = egg:swift#$name
[filter:healthcheck]
use = egg:swift#healthcheck
EOC
  done
  cat > "$dir/etc/proxy-server.conf" <<EOC
$defaults
bind_port = $port
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
max_upload_part_num = 10000
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$memcache
[filter:proxy-logging]
use = egg:swift#proxy_logging
EOC
  local filter
  for filter in catch_errors gatekeeper healthcheck listing_formats bulk copy slo dlo versioned_writes symlink; do
    printf '[filter:%s]\nuse = egg:swift#%s\n' "$filter" "$filter" >> "$dir/etc/proxy-server.conf"
  done

  local as_user=()
  [ "$(id -u)" -eq 0 ] && as_user=(-u root)
  memcached "${as_user[@]}" -l 127.0.0.1 -p "$memcache" -U 0 -m 64 </dev/null >"$dir/log/memcached.log" 2>&1 &
  echo $! > "$dir/pid/memcached"
  for name in account container object proxy; do
    "swift-$name-server" "$dir/etc/$name-server.conf" -v </dev/null >"$dir/log/$name.log" 2>&1 &
    echo $! > "$dir/pid/$name"
  done

  local url
  for url in "http://127.0.0.1:$account/healthcheck" "http://127.0.0.1:$container/healthcheck" \
             "http://127.0.0.1:$object/healthcheck" "http://127.0.0.1:$port/healthcheck"; do
    for i in $(seq 1 300); do
      answers "$url" && break
      if [ "$i" -eq 300 ]; then
        echo "s3-swift.sh: no answer from $url after 30 s; logs:" >&2
        tail -n 20 "$dir"/log/*.log >&2 || true
        stop "$dir"
        exit 1
      fi
      sleep 0.1
    done
  done
}

kill_proxy() { # kill-proxy DIR
  local dir=$1 pid
  pid=$(cat "$dir/pid/proxy")
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "s3-swift.sh: proxy $pid still running" >&2
  exit 1
}

start_proxy() { # start-proxy DIR PORT
  local dir=$1 port=$2
  swift-proxy-server "$dir/etc/proxy-server.conf" -v </dev/null >>"$dir/log/proxy.log" 2>&1 &
  echo $! > "$dir/pid/proxy"
  for _ in $(seq 1 300); do
    answers "http://127.0.0.1:$port/healthcheck" && return 0
    sleep 0.1
  done
  echo "s3-swift.sh: the proxy did not answer again after 30 s" >&2
  exit 1
}

case "${1:-}" in
  install) install ;;
  start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  kill-proxy) [ $# -eq 2 ] || usage; kill_proxy "$2" ;;
  start-proxy) [ $# -eq 3 ] || usage; start_proxy "$2" "$3" ;;
  *) usage ;;
esac
