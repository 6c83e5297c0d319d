"""Memory per idle logged-in session (issue 22 item 8): the server's PSS (smaps_rollup) before, N
anonymous sessions opened and logged in, each from its own 127.0.x.y address (so no per-address
limit applies and every session is a distinct peer, as on a real server), idle for SETTLE seconds,
PSS again. Prints one JSON line; the sessions are closed before it exits.

    python3 bench/idle-clients.py PORT PID [SESSIONS [SETTLE [HOLD]]]

HOLD keeps the sessions open that many seconds after the reading (to take a heap dump of the server).
"""
import asyncio
import json
import sys
import time


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError("no Pss line")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS line")


async def reply(reader):
    # A reply ends with "DDD " (RFC 959 §4.2: a multi-line reply's last line).
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed by the server")
        if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b" ":
            return int(line[:3])


async def login(port, i, gate, sessions, errors):
    source = f"127.0.{1 + i // 250}.{1 + i % 250}"
    async with gate:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            if await reply(reader) != 220:
                raise ConnectionError("no 220")
            writer.write(b"USER anonymous\r\n")
            if await reply(reader) != 331:
                raise ConnectionError("USER refused")
            writer.write(b"PASS idle@example.com\r\n")
            if await reply(reader) != 230:
                raise ConnectionError("PASS refused")
            sessions.append((reader, writer))
        except (OSError, ConnectionError) as e:
            errors.append(f"{source}: {e}")


async def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    settle = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    hold = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    before_pss, before_rss = pss_kib(pid), rss_kib(pid)
    sessions, errors = [], []
    gate = asyncio.Semaphore(64)
    started = time.monotonic()
    await asyncio.gather(*(login(port, i, gate, sessions, errors) for i in range(n)))
    opened = time.monotonic() - started
    await asyncio.sleep(settle)
    after_pss, after_rss = pss_kib(pid), rss_kib(pid)
    open_ = len(sessions)
    if hold > 0:
        print(f"idle-clients: {open_} sessions held for {hold} s", file=sys.stderr, flush=True)
        await asyncio.sleep(hold)
    for _, writer in sessions:
        writer.close()
    print(json.dumps({
        "sessions": open_,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "open_seconds": round(opened, 1),
        "pss_before_kib": before_pss,
        "pss_after_kib": after_pss,
        "rss_before_kib": before_rss,
        "rss_after_kib": after_rss,
        "kib_per_session": round((after_pss - before_pss) / open_, 3) if open_ else None,
        "rss_kib_per_session": round((after_rss - before_rss) / open_, 3) if open_ else None,
    }))


asyncio.run(main())
