#!/usr/bin/env bash
# Runs one of the C FTP servers unpacked by install.sh in the FOREGROUND on 127.0.0.1:PORT.
#
#   run-peer.sh NAME --port P --root DIR [options]
#     NAME                vsftpd | pure-ftpd | proftpd
#     --port P            control port on 127.0.0.1 (required)
#     --root DIR          served anonymously (USER anonymous or ftp, any password), read-only (required)
#     --user USER:PASS    also a named account whose home is DIR, chrooted there, with write access
#     --tls CERT KEY      explicit FTPS (AUTH TLS, PBSZ 0, PROT P/C) with these PEM files; plain stays
#                         allowed unless --tls-required. Session reuse on data connections is left at
#                         each server's default: REQUIRED by vsftpd (require_ssl_reuse=YES) and ProFTPD
#                         (no NoSessionReuseRequired); Pure-FTPd does not check it.
#     --tls-required      refuse logins and transfers without TLS
#     --implicit          implicit FTPS (TLS from the first byte; vsftpd and proftpd only)
#     --pasv-min A --pasv-max B   passive port range (default: any ephemeral port)
#     --max-clients N     connection limit, total and per IP (default 500: benchmarks open many)
#     --state DIR         where config, logs and pid files go (default: a new mktemp -d); kept on exit
#     --digest            proftpd only: load mod_digest (HASH, XSHA256 and the other X-hashes in FEAT)
#
# Needs root. DIR is made world-readable (a+rX, the anonymous session runs as `ftp`), and with --user it
# is chowned to `ferrypeer`, the uid the named account runs as. The server's own logs are in the
# state folder (printed on stderr at start). Every server forks per connection: to stop them all,
# start this script as the leader of its own process group (`setsid run-peer.sh ...`) and signal
# the group (`kill -TERM -- -PID`). PEERS_DIR: $FERRY_PEERS_DIR or /opt/ferry-peers.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
die() { echo "run-peer: $*" >&2; exit 2; }

[ $# -ge 1 ] || usage
case "$1" in
  -h | --help) usage ;;
  vsftpd | pure-ftpd | proftpd) ;;
  *) die "unknown server '$1': vsftpd, pure-ftpd or proftpd" ;;
esac
name=$1
shift
port="" root="" user="" pass="" cert="" key="" tls_required=0 implicit=0 pasv_min="" pasv_max=""
max_clients=500 state="" digest=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --user) user=${2%%:*}; pass=${2#*:}; [ "$user" != "$2" ] || die "--user wants USER:PASS"; shift 2 ;;
    --tls) cert=$2; key=$3; shift 3 ;;
    --tls-required) tls_required=1; shift ;;
    --implicit) implicit=1; shift ;;
    --pasv-min) pasv_min=$2; shift 2 ;;
    --pasv-max) pasv_max=$2; shift 2 ;;
    --max-clients) max_clients=$2; shift 2 ;;
    --state) state=$2; shift 2 ;;
    --digest) digest=1; shift ;;
    -h | --help) usage ;;
    *) die "unknown option '$1'" ;;
  esac
done
[ -n "$port" ] || die "--port is required"
[ -n "$root" ] || die "--root is required"
[ -d "$root" ] || die "--root $root is not a directory"
root=$(cd "$root" && pwd -P)
# DIR gets chmod -R (and chown -R with --user): never a top-level folder such as / or /tmp.
case "$root" in /*/*) ;; *) die "--root $root: give a folder at least two levels deep (it is chmod/chown -R'd)" ;; esac
if [ -n "$cert" ]; then
  [ -f "$cert" ] && [ -f "$key" ] || die "--tls: $cert or $key missing"
  cert=$(readlink -f "$cert") key=$(readlink -f "$key")
fi
if [ "$implicit" -eq 1 ] && [ -z "$cert" ]; then die "--implicit needs --tls CERT KEY"; fi
if [ "$digest" -eq 1 ] && [ "$name" != proftpd ]; then die "--digest is for proftpd (mod_digest)"; fi
if { [ -n "$pasv_min" ] && [ -z "$pasv_max" ]; } || { [ -z "$pasv_min" ] && [ -n "$pasv_max" ]; }; then
  die "--pasv-min and --pasv-max go together"
fi
[ "$(id -u)" -eq 0 ] || die "must run as root"

peers=${FERRY_PEERS_DIR:-/opt/ferry-peers}
home="$peers/$name"
[ -f "$home/.ferry-peer" ] || die "$name is not installed in $home: run tests/peers/install.sh as root"
if [ -z "$state" ]; then state=$(mktemp -d "/tmp/ferry-peer-$name-XXXXXX"); fi
mkdir -p "$state"
state=$(cd "$state" && pwd -P)
chmod 755 "$state"
echo "run-peer: $name ($(cat "$home/.ferry-peer")) on 127.0.0.1:$port, root $root, state $state" >&2

chmod -R a+rX "$root"
if [ -n "$user" ]; then chown -R ferrypeer:ferrypeer "$root"; fi
ferrypeer_uid=$(id -u ferrypeer)
ferrypeer_gid=$(id -g ferrypeer)

run_vsftpd() {
  local conf="$state/vsftpd.conf"
  cat >"$conf" <<EOF
# written by run-peer.sh
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
# seccomp filters break in some containers (500 OOPS: ... child died)
seccomp_sandbox=NO
secure_chroot_dir=/var/run/vsftpd/empty
nopriv_user=nobody
max_clients=$max_clients
max_per_ip=$max_clients
anonymous_enable=YES
ftp_username=ftp
anon_root=$root
no_anon_password=YES
anon_upload_enable=NO
anon_mkdir_write_enable=NO
anon_other_write_enable=NO
allow_writeable_chroot=YES
vsftpd_log_file=$state/vsftpd.log
xferlog_enable=YES
log_ftp_protocol=YES
syslog_enable=NO
EOF
  if [ -n "$pasv_min" ]; then
    printf 'pasv_min_port=%s\npasv_max_port=%s\n' "$pasv_min" "$pasv_max" >>"$conf"
  fi
  if [ -n "$user" ]; then
    # A virtual (guest) user: PAM checks the password with pam_userdb against this run's Berkeley DB
    # (db5.3_load, from install.sh), and the session runs as `ferrypeer` with local-user rights
    # (write_enable) chrooted in DIR. (pam_exec hangs inside vsftpd: its SIGCHLD handler reaps the child.)
    local service="ferry-vsftpd-$port"
    printf '%s\n%s\n' "$user" "$pass" | db5.3_load -T -t hash "$state/vsftpd-users.db.new"
    mv "$state/vsftpd-users.db.new" "$state/vsftpd-users.db"
    chmod 600 "$state/vsftpd-users.db"
    cat >"/etc/pam.d/$service" <<EOF
# written by ferry tests/peers/run-peer.sh for vsftpd on port $port
auth required pam_userdb.so db=$state/vsftpd-users
account required pam_userdb.so db=$state/vsftpd-users
session required pam_permit.so
EOF
    cat >>"$conf" <<EOF
local_enable=YES
write_enable=YES
local_umask=022
guest_enable=YES
guest_username=ferrypeer
virtual_use_local_privs=YES
local_root=$root
chroot_local_user=YES
pam_service_name=$service
userlist_enable=NO
check_shell=NO
EOF
  else
    printf 'local_enable=NO\nwrite_enable=NO\n' >>"$conf"
  fi
  if [ -n "$cert" ]; then
    cat >>"$conf" <<EOF
ssl_enable=YES
rsa_cert_file=$cert
rsa_private_key_file=$key
allow_anon_ssl=YES
ssl_ciphers=HIGH
ssl_tlsv1=YES
ssl_sslv2=NO
ssl_sslv3=NO
# require_ssl_reuse is left at its default, YES: a data connection must resume the control session.
debug_ssl=YES
EOF
    if [ "$tls_required" -eq 1 ]; then
      printf '%s\n' force_local_logins_ssl=YES force_local_data_ssl=YES \
        force_anon_logins_ssl=YES force_anon_data_ssl=YES >>"$conf"
    else
      printf '%s\n' force_local_logins_ssl=NO force_local_data_ssl=NO \
        force_anon_logins_ssl=NO force_anon_data_ssl=NO >>"$conf"
    fi
    if [ "$implicit" -eq 1 ]; then echo implicit_ssl=YES >>"$conf"; fi
  fi
  exec "$home/usr/sbin/vsftpd" "$conf"
}

run_pure_ftpd() {
  [ "$implicit" -eq 0 ] || die "Debian's pure-ftpd is built without implicit TLS"
  local args=(-S "127.0.0.1,$port" -4 -H -A -i -u 1 -c "$max_clients" -C "$max_clients"
    -g "$state/pure-ftpd.pid" -O "clf:$state/transfer.log" -d)
  if [ -n "$pasv_min" ]; then args+=(-p "$pasv_min:$pasv_max"); fi
  if [ -n "$user" ]; then
    # PureDB virtual user running as ferrypeer, chrooted in DIR (-d).
    rm -f "$state/pureftpd.passwd" "$state/pureftpd.pdb"
    printf '%s\n%s\n' "$pass" "$pass" | "$home/usr/bin/pure-pw" useradd "$user" \
      -u ferrypeer -g ferrypeer -d "$root" -f "$state/pureftpd.passwd" -F "$state/pureftpd.pdb" -m >/dev/null
    args+=(-l "puredb:$state/pureftpd.pdb")
  fi
  if [ -n "$cert" ]; then
    if [ "$tls_required" -eq 1 ]; then args+=(-Y 3); else args+=(-Y 1); fi
    args+=("--certfile=$cert,$key")
  fi
  # Pure-FTPd serves anonymous sessions from the home of the system user `ftp` and has no option to
  # change it: bind-mount DIR there in a private mount namespace (so parallel runs do not collide).
  local anon_home
  anon_home=$(getent passwd ftp | cut -d: -f6)
  [ -d "$anon_home" ] || die "home of user ftp ($anon_home) is missing: run tests/peers/install.sh"
  # stdin must not be a socket: Pure-FTPd then assumes inetd mode and serves fd 0 (and exits).
  exec </dev/null
  exec unshare --mount --propagation private -- /bin/sh -c \
    'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$root" "$anon_home" \
    "$home/usr/sbin/pure-ftpd" "${args[@]}"
}

run_proftpd() {
  local conf="$state/proftpd.conf"
  cat >"$conf" <<EOF
# written by run-peer.sh
ServerType standalone
ServerName "ferry peer proftpd"
DefaultServer on
UseIPv6 off
DefaultAddress 127.0.0.1
SocketBindTight on
Port $port
User nobody
Group nogroup
PidFile $state/proftpd.pid
ScoreboardFile $state/proftpd.scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
SystemLog $state/proftpd.log
TransferLog $state/xferlog
MaxInstances $max_clients
MaxClients $max_clients
MaxClientsPerHost $max_clients
ModulePath $home/usr/lib/proftpd
AuthPAM off
AuthOrder mod_auth_file.c mod_auth_unix.c
RequireValidShell off
DefaultRoot ~
Umask 022
AllowOverwrite on
# Resumed uploads (REST + STOR, APPE): off by default, answered with "451 Append/Restart not permitted".
AllowStoreRestart on
TimesGMT on
<Anonymous $root>
  User ftp
  Group nogroup
  UserAlias anonymous ftp
  RequireValidShell off
  <Limit WRITE>
    DenyAll
  </Limit>
</Anonymous>
EOF
  if [ -n "$pasv_min" ]; then echo "PassivePorts $pasv_min $pasv_max" >>"$conf"; fi
  if [ -n "$user" ]; then
    local hash
    hash=$(openssl passwd -6 -stdin <<<"$pass")
    echo "$user:$hash:$ferrypeer_uid:$ferrypeer_gid::$root:/bin/false" >"$state/ftpd.passwd"
    echo "ferrypeer:x:$ferrypeer_gid:" >"$state/ftpd.group"
    chmod 600 "$state/ftpd.passwd" "$state/ftpd.group"
    printf 'AuthUserFile %s\nAuthGroupFile %s\n' "$state/ftpd.passwd" "$state/ftpd.group" >>"$conf"
  fi
  if [ -n "$cert" ]; then
    local options=""
    if [ "$implicit" -eq 1 ]; then options="UseImplicitSSL"; fi
    cat >>"$conf" <<EOF
LoadModule mod_tls.c
<IfModule mod_tls.c>
  TLSEngine on
  TLSLog $state/tls.log
  TLSProtocol TLSv1.2 TLSv1.3
  TLSRSACertificateFile $cert
  TLSRSACertificateKeyFile $key
  TLSVerifyClient off
  TLSRequired $([ "$tls_required" -eq 1 ] && echo on || echo off)
  # No NoSessionReuseRequired: data connections must resume the control connection's session.
  ${options:+TLSOptions $options}
</IfModule>
EOF
  fi
  if [ "$digest" -eq 1 ]; then
    # DigestCache off: with the cache on, a file rewritten with the same size and time was answered
    # with its old hash (seen with ProFTPD 1.3.8).
    printf 'LoadModule mod_digest.c\n<IfModule mod_digest.c>\n  DigestEngine on\n  DigestCache off\n</IfModule>\n' >>"$conf"
  fi
  exec "$home/usr/sbin/proftpd" -n -c "$conf"
}

case "$name" in
  vsftpd) run_vsftpd ;;
  pure-ftpd) run_pure_ftpd ;;
  proftpd) run_proftpd ;;
esac
