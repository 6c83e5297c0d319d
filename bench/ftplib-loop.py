#!/usr/bin/env python3
"""A client nobody here wrote, in a loop: Python's ftplib against one server, for N seconds.

    bench/ftplib-loop.py MODE HOST PORT SECONDS [USER PASSWORD] [FILE]

MODE small:    one session (login once), then RETR FILE over and over; ftplib's retrbinary sends
               TYPE I, PASV and RETR for each file. Prints files/s.
MODE list:     one session, then LIST FILE over and over (ftplib sends TYPE A, PASV, LIST); a
               short listing. Prints listings/s.
MODE sessions: connect, login, RETR FILE, QUIT, over and over. Prints sessions/s.
Anonymous login unless USER and PASSWORD are given. FILE defaults to small.bin.
FERRY_RATE=N in the environment paces the loop to at most N per second (for CPU time per
operation at the same rate on both sides of an A/B, which a shared machine disturbs less than
throughput). FERRY_COUNT=N stops after N operations (or SECONDS, whichever comes first): the
same work on every server, for CPU time and context switches per operation (perf stat -p).
Used by docs/benchmarks.md for the measurements of issue 22 (A/B, interleaved).
"""
import ftplib
import sys
import os
import time

mode, host, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
user = sys.argv[5] if len(sys.argv) > 6 else "anonymous"
password = sys.argv[6] if len(sys.argv) > 6 else "bench@"
name = sys.argv[7] if len(sys.argv) > 7 else (sys.argv[5] if len(sys.argv) == 6 else "small.bin")
sink = lambda _: None

rate = float(os.environ.get("FERRY_RATE", "0"))
limit = int(os.environ.get("FERRY_COUNT", "0"))
count = 0
deadline = time.monotonic() + seconds
start = time.monotonic()


def pace():
    if rate > 0:
        ahead = start + count / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def more():
    return time.monotonic() < deadline and (limit == 0 or count < limit)


if mode in ("small", "list"):
    ftp = ftplib.FTP()
    ftp.connect(host, port)
    ftp.login(user, password)
    while more():
        if mode == "small":
            ftp.retrbinary("RETR " + name, sink)
        else:
            ftp.retrlines("LIST " + name, sink)
        count += 1
        pace()
    ftp.quit()
elif mode == "sessions":
    while more():
        ftp = ftplib.FTP()
        ftp.connect(host, port)
        ftp.login(user, password)
        ftp.retrbinary("RETR " + name, sink)
        ftp.quit()
        count += 1
        pace()
else:
    sys.exit("mode: small, list or sessions")
elapsed = time.monotonic() - start
print(f"{mode} {count / elapsed:.0f}/s ({count} in {elapsed:.1f} s)")
