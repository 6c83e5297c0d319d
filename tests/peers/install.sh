#!/usr/bin/env bash
# Installs the C FTP servers used as interop/benchmark peers: vsftpd, Pure-FTPd and ProFTPD.
#
# The three Debian packages conflict with each other (each provides ftp-server and starts a
# daemon), so each one is only downloaded (`apt-get download`) and unpacked (`dpkg -x`) into
#   $FERRY_PEERS_DIR/<name>        (default /opt/ferry-peers/<name>)
# Shared libraries they need that are missing are ordinary Debian packages and are installed
# with apt-get (they do not conflict). Also makes sure of: `openssl` (certificates), pam_userdb +
# db5.3_load (vsftpd's named user), the system users `ftp` (anonymous; Pure-FTPd insists on that name) and
# `ferrypeer` (the uid a named account's uploads run as). Idempotent; run as root.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
PEERS_DIR=${FERRY_PEERS_DIR:-/opt/ferry-peers}
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (the servers need root to start)" >&2
  exit 1
fi

# name -> Debian packages unpacked into its directory
declare -A PACKAGES=(
  [vsftpd]="vsftpd"
  [pure-ftpd]="pure-ftpd"
  [proftpd]="proftpd-core proftpd-mod-crypto"
)
# name -> binaries that must load (ldd) once unpacked
declare -A BINARIES=(
  [vsftpd]="usr/sbin/vsftpd"
  [pure-ftpd]="usr/sbin/pure-ftpd usr/bin/pure-pw"
  [proftpd]="usr/sbin/proftpd usr/lib/proftpd/mod_tls.so"
)

updated=0
apt_update() {
  if [ "$updated" -eq 0 ]; then apt-get update; updated=1; fi
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_install() { # apt_install PKG... (only the missing ones)
  local missing=()
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "install.sh: apt-get install ${missing[*]}"
    apt_update
    apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

# Tools the peers' scripts use.
command -v openssl >/dev/null 2>&1 || apt_install openssl
apt_install libpam-modules libpam-runtime db5.3-util
command -v useradd >/dev/null 2>&1 || apt_install passwd
command -v setsid >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 || apt_install util-linux
command -v mount >/dev/null 2>&1 || apt_install mount

# Accounts: `ftp` for anonymous sessions, `ferrypeer` for named accounts (uploads are its files).
getent group nogroup >/dev/null || groupadd --system nogroup
getent passwd ftp >/dev/null ||
  useradd --system --home-dir /srv/ftp --no-create-home --shell /usr/sbin/nologin --gid nogroup ftp
# vsftpd changes into the guest user's home before local_root, so it must exist.
getent passwd ferrypeer >/dev/null ||
  useradd --system --home-dir /var/lib/ferrypeer --no-create-home --shell /usr/sbin/nologin --user-group ferrypeer
[ "$(getent passwd ferrypeer | cut -d: -f6)" = /var/lib/ferrypeer ] || usermod --home /var/lib/ferrypeer ferrypeer
mkdir -p /srv/ftp /var/lib/ferrypeer /var/run/vsftpd/empty
chmod 755 /srv/ftp /var/lib/ferrypeer

loads() { # loads NAME: every binary of the unpacked peer finds its libraries
  local bin
  for bin in ${BINARIES[$1]}; do
    [ -x "$PEERS_DIR/$1/$bin" ] || [ -f "$PEERS_DIR/$1/$bin" ] || return 1
    if ldd "$PEERS_DIR/$1/$bin" | grep -q 'not found'; then return 1; fi
  done
}

for name in vsftpd pure-ftpd proftpd; do
  dest="$PEERS_DIR/$name"
  read -r -a pkgs <<<"${PACKAGES[$name]}"
  # Already unpacked and loadable: nothing to do (delete the folder to force a fresh download).
  if [ -f "$dest/.ferry-peer" ] && loads "$name"; then
    echo "install.sh: $name ready in $dest ($(cat "$dest/.ferry-peer"))"
    continue
  fi
  apt_update
  echo "install.sh: unpacking ${pkgs[*]} into $dest"
  work=$(mktemp -d)
  chown _apt "$work" 2>/dev/null || true
  (cd "$work" && apt-get download "${pkgs[@]}")
  rm -rf "$dest"
  mkdir -p "$dest"
  versions=""
  for deb in "$work"/*.deb; do
    dpkg -x "$deb" "$dest"
    versions+="$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version) "
  done
  rm -rf "$work"

  # Runtime libraries: the packages' own lib* dependencies, installed system-wide if missing.
  libs=()
  for p in "${pkgs[@]}"; do
    while read -r dep; do libs+=("$dep"); done < <(
      apt-cache depends "$p" | sed -n 's/^ *|\?\(Pre\)\?Depends: \(lib[^ <>]*\|zlib[^ <>]*\)$/\2/p')
  done
  if [ "${#libs[@]}" -gt 0 ]; then apt_install "${libs[@]}"; fi

  if ! loads "$name"; then
    echo "install.sh: $name in $dest still misses libraries:" >&2
    for bin in ${BINARIES[$name]}; do ldd "$dest/$bin" | grep 'not found' >&2 || true; done
    exit 1
  fi
  echo "$versions" >"$dest/.ferry-peer"
done
echo "install.sh: peers ready in $PEERS_DIR (vsftpd, pure-ftpd, proftpd)"
