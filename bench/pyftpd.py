"""pyftpdlib as a benchmark peer: anonymous read-only plus one named account with full rights on
ROOT, sendfile on (pyftpdlib's default where os.sendfile exists), no connection limits. With CERT
and KEY also explicit FTPS (TLS_FTPHandler: AUTH TLS, PBSZ, PROT; plain sessions still allowed;
needs PyOpenSSL, Debian's python3-openssl). pyftpdlib does not require data connections to resume
the control connection's TLS session.

    /usr/bin/python3 bench/pyftpd.py PORT ROOT USER PASSWORD [CERT KEY]
"""
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def handler_class(cert, key):
    if cert is None:
        return type("BenchHandler", (FTPHandler,), {})
    try:
        from pyftpdlib.handlers import TLS_FTPHandler  # only defined when PyOpenSSL imports
    except ImportError as e:
        sys.exit(f"pyftpd: FTPS needs PyOpenSSL (python3-openssl): {e}")
    return type("BenchTlsHandler", (TLS_FTPHandler,), {
        "certfile": cert,
        "keyfile": key,
        "tls_control_required": False,
        "tls_data_required": False,
    })


def main():
    port, root, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    cert, key = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else (None, None)
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, root, perm="elradfmwMT")
    authorizer.add_anonymous(root)
    handler = handler_class(cert, key)
    handler.authorizer = authorizer
    # Plain data connections only: under PROT P the TLS data handler turns sendfile off itself.
    handler.use_sendfile = True
    # bench/run.sh --pasv-range A-B: the same passive port range as every other server.
    if os.environ.get("FERRY_BENCH_PASV"):
        low, high = (int(p) for p in os.environ["FERRY_BENCH_PASV"].split("-"))
        handler.passive_ports = range(low, high + 1)
    server = FTPServer(("127.0.0.1", port), handler)
    server.max_cons = 0
    server.max_cons_per_ip = 0
    if cert is not None:
        print(f"pyftpd: explicit FTPS with {cert}", file=sys.stderr)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
