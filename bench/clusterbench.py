#!/usr/bin/env python3
"""Measurements of bench/cluster.sh (issue 17 and issue 18's 1,000-session figure).

  logins     --host H --port P --user U --password W --seconds S --clients N
             N processes, each a loop of connect, USER, PASS, QUIT for S seconds: logins per second.
  sessions   --host H --port P --user U --password W --seconds S --clients N --data DIR
             N processes, each a loop of connect, USER, PASS, RETR /tiny.bin (4 KiB, passive, SHA-256
             checked), QUIT for S seconds: short sessions per second.
  small      --host H --port P --user U --password W --files F --sessions N
             N sessions at once, each RETRs its share of F small files (/small/NNNN.bin, SHA-256
             checked against --data): files per second.
  large      --host H --port P --user U --password W --name NAME --data DIR
             one RETR of /NAME (SHA-256 checked), then one STOR of it as /NAME.up: MiB/s each.
  admin      --host H --port P --user U --password W --sessions N --admin-port A --token T --pid PID
             opens N logged-in FTP sessions from 127.0.0.x addresses, then times the first GET
             /api/sessions since the start and --reps more, reads /api/events (Server-Sent Events)
             with the sessions idle and with --busy of them sending a NOOP a second, and samples
             the server's RSS and CPU time.
Prints one JSON object on standard output.
"""
import argparse, asyncio, ftplib, hashlib, json, multiprocessing, os, socket, statistics, sys, time, urllib.request


def login_loop(host, port, user, password, seconds, out):
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        f = ftplib.FTP()
        f.connect(host, port, timeout=30)
        f.login(user, password)
        f.quit()
        n += 1
    out.put(n)


def logins(a):
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=login_loop, args=(a.host, a.port, a.user, a.password, a.seconds, q)) for _ in range(a.clients)]
    start = time.monotonic()
    for p in ps:
        p.start()
    total = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    elapsed = time.monotonic() - start
    return {"logins": total, "seconds": elapsed, "per_second": total / elapsed, "clients": a.clients}


def session_loop(host, port, user, password, seconds, want, source, out):
    n, ok, end = 0, True, time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            f = ftplib.FTP()
            f.connect(host, port, timeout=30, source_address=(source, 0))
            f.login(user, password)
            h = hashlib.sha256()
            f.retrbinary("RETR /tiny.bin", h.update)
            f.quit()
            ok = ok and h.hexdigest() == want
            n += 1
    except Exception as e:  # a failed session fails the run ("ok": false), it does not hang it
        print(f"session from {source}: {e!r}", file=sys.stderr)
        ok = False
    out.put((n, ok))


def sessions(a):
    with open(os.path.join(a.data, "tiny.bin"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    q = multiprocessing.Queue()
    # Each client from its own loopback address (control and data), as distinct clients would be:
    # a server's per-address share of its passive range (a quarter) is then not what is measured.
    ps = [multiprocessing.Process(target=session_loop, args=(a.host, a.port, a.user, a.password, a.seconds, want, f"127.0.0.{20 + i}", q))
          for i in range(a.clients)]
    start = time.monotonic()
    for p in ps:
        p.start()
    done = [q.get() for _ in ps]
    for p in ps:
        p.join()
    elapsed = time.monotonic() - start
    total = sum(n for n, _ in done)
    return {"sessions": total, "seconds": elapsed, "per_second": total / elapsed, "clients": a.clients, "ok": all(ok for _, ok in done)}


def expected_small(data, i):
    with open(os.path.join(data, "small", f"{i:04d}.bin"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def small_worker(host, port, user, password, names, data, source, out):
    f = ftplib.FTP()
    f.connect(host, port, timeout=60, source_address=(source, 0))
    f.login(user, password)
    ok = True
    for i in names:
        h = hashlib.sha256()
        f.retrbinary(f"RETR /small/{i:04d}.bin", h.update, blocksize=65536)
        ok = ok and h.hexdigest() == expected_small(data, i)
    f.quit()
    out.put(ok)


def small(a):
    q = multiprocessing.Queue()
    shares = [list(range(s, a.files, a.sessions)) for s in range(a.sessions)]
    ps = [multiprocessing.Process(target=small_worker, args=(a.host, a.port, a.user, a.password, names, a.data, f"127.0.0.{20 + s}", q))
          for s, names in enumerate(shares)]
    start = time.monotonic()
    for p in ps:
        p.start()
    ok = all(q.get() for _ in ps)
    for p in ps:
        p.join()
    elapsed = time.monotonic() - start
    return {"files": a.files, "sessions": a.sessions, "seconds": elapsed, "per_second": a.files / elapsed, "ok": ok}


def large(a):
    path = os.path.join(a.data, a.name)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        want = hashlib.file_digest(f, "sha256").hexdigest()
    f = ftplib.FTP()
    f.connect(a.host, a.port, timeout=60)
    f.login(a.user, a.password)
    h = hashlib.sha256()
    start = time.monotonic()
    # 64 KiB: a 1 MiB ftplib recv allocates 1 MiB per ~64 KiB that arrives on loopback and
    # throttles the client itself (direct RETR looked 3x slower than through HAProxy because of it).
    f.retrbinary(f"RETR /{a.name}", h.update, blocksize=64 * 1024)
    retr = time.monotonic() - start
    with open(path, "rb") as src:
        start = time.monotonic()
        f.storbinary(f"STOR /{a.name}.up", src, blocksize=1 << 20)
        stor = time.monotonic() - start
    f.quit()
    with open(os.path.join(a.root, a.name + ".up"), "rb") as up:
        stored = hashlib.file_digest(up, "sha256").hexdigest()
    mib = size / (1 << 20)
    return {"mib": mib, "retr_seconds": retr, "retr_mib_s": mib / retr, "stor_seconds": stor, "stor_mib_s": mib / stor,
            "ok": h.hexdigest() == want and stored == want}


def proc_stat(pid):
    """(RSS in KiB, user+system CPU seconds) of a process, from /proc."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


async def open_session(host, port, user, password, source, sem):
    async with sem:
        reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))

        async def reply():
            while True:
                line = (await reader.readline()).decode()
                if len(line) > 3 and line[3] == " ":
                    return line

        assert (await reply()).startswith("220")
        writer.write(f"USER {user}\r\n".encode())
        assert (await reply()).startswith("331")
        writer.write(f"PASS {password}\r\n".encode())
        line = await reply()
        assert line.startswith("230"), line
        return reader, writer


def api(a, path):
    req = urllib.request.Request(f"http://127.0.0.1:{a.admin_port}{path}", headers={"Authorization": f"Bearer {a.token}"})
    start = time.monotonic()
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return time.monotonic() - start, body


def read_events(a, seconds):
    """Reads /api/events for `seconds`: the first event's size (the snapshot), then every later
    event's size and the bytes per second after the first event."""
    req = urllib.request.Request(f"http://127.0.0.1:{a.admin_port}/api/events", headers={"Authorization": f"Bearer {a.token}"})
    sizes, times = [], []
    with urllib.request.urlopen(req, timeout=30) as r:
        size = 0
        while True:
            line = r.readline()
            if not line:
                break
            size += len(line)
            if line in (b"\n", b"\r\n") and size > 2:
                sizes.append(size)
                times.append(time.monotonic())
                size = 0
                if times[-1] - times[0] >= seconds:
                    break
    later = sizes[1:]
    span = times[-1] - times[0] if len(times) > 1 else 1
    return {"first_event_bytes": sizes[0] if sizes else 0, "events": len(later),
            "later_event_bytes_median": statistics.median(later) if later else 0,
            "bytes_per_second": sum(later) / span, "gap_s": span / len(later) if later else 0}


async def busy(conns, stop):
    """Each of `conns` sends NOOP once a second (a session that does something) until `stop`."""
    async def one(reader, writer, delay):
        await asyncio.sleep(delay)
        while not stop.is_set():
            writer.write(b"NOOP\r\n")
            await writer.drain()
            while True:
                line = (await reader.readline()).decode()
                if len(line) > 3 and line[3] == " ":
                    break
            try:
                await asyncio.wait_for(stop.wait(), 1)
            except asyncio.TimeoutError:
                pass
    await asyncio.gather(*(one(r, w, i / max(1, len(conns))) for i, (r, w) in enumerate(conns)))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def admin(a):
    result = {"sessions": a.sessions, "load_average": open("/proc/loadavg").read().split()[:3]}
    result["rss_idle_kib"], _ = proc_stat(a.pid)
    sem = asyncio.Semaphore(50)
    start = time.monotonic()
    conns = await asyncio.gather(*(open_session(a.host, a.port, a.user, a.password, f"127.0.0.{10 + i % 200}", sem) for i in range(a.sessions)))
    result["open_seconds"] = time.monotonic() - start
    await asyncio.sleep(3)  # the registry of sessions settles
    result["rss_sessions_kib"], _ = proc_stat(a.pid)
    # The client's own first use (a worker thread, urllib's set-up) is paid on a port where
    # nothing listens, so the figure below is the server's first request, not Python's.
    def refused():
        try:
            urllib.request.urlopen("http://127.0.0.1:9/", timeout=5)
        except OSError:
            pass
    await asyncio.to_thread(refused)
    # The first request since the start (nothing asked the console before): wall time, and the
    # server's CPU time around it (10 ms ticks; the load-insensitive part of the figure, though it
    # includes the server's background work meanwhile, cpu_idle_per_s).
    _, cpu0 = proc_stat(a.pid)
    first, body = await asyncio.to_thread(api, a, "/api/sessions")
    _, cpu1 = proc_stat(a.pid)
    result["api_first_ms"] = first * 1000
    result["api_first_server_cpu_ms"] = (cpu1 - cpu0) * 1000
    times = []
    _, cpu0 = proc_stat(a.pid)
    for _ in range(a.reps):
        t, body = await asyncio.to_thread(api, a, "/api/sessions")
        times.append(t)
    _, cpu1 = proc_stat(a.pid)
    result["api_later_server_cpu_ms_per_request"] = (cpu1 - cpu0) * 1000 / a.reps
    listed = json.loads(body)
    result["api_sessions_listed"] = len(listed) if isinstance(listed, list) else len(listed.get("sessions", []))
    result["api_sessions_bytes"] = len(body)
    result["api_later_ms"] = {"requests": len(times), "p50": percentile(times, 50) * 1000, "p99": percentile(times, 99) * 1000,
                              "max": max(times) * 1000, "min": min(times) * 1000}
    # CPU of the server over 10 s with nobody reading the console, then with one SSE reader.
    _, cpu0 = proc_stat(a.pid)
    await asyncio.sleep(10)
    _, cpu1 = proc_stat(a.pid)
    sse = await asyncio.to_thread(read_events, a, 10)
    _, cpu2 = proc_stat(a.pid)
    result["cpu_idle_per_s"] = (cpu1 - cpu0) / 10
    result["cpu_with_sse_per_s"] = (cpu2 - cpu1) / max(1, sse["gap_s"] * sse["events"])
    result["sse_idle_sessions"] = sse
    result["rss_sse_kib"], _ = proc_stat(a.pid)
    # The same with some sessions doing something (a NOOP a second each): what an update carries
    # grows with the sessions that change, not with the sessions connected.
    if a.busy:
        stop = asyncio.Event()
        noops = asyncio.create_task(busy(conns[:a.busy], stop))
        await asyncio.sleep(1.5)
        result["sse_busy_sessions"] = dict(await asyncio.to_thread(read_events, a, 10), busy=a.busy)
        stop.set()
        await noops
    for _, w in conns:
        w.close()
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["logins", "sessions", "small", "large", "admin"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="bench")
    p.add_argument("--password", default="bench")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--files", type=int, default=500)
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--data")
    p.add_argument("--root")
    p.add_argument("--name", default="large.bin")
    p.add_argument("--admin-port", type=int)
    p.add_argument("--token")
    p.add_argument("--pid", type=int)
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--busy", type=int, default=50)
    a = p.parse_args()
    if a.what == "admin":
        r = asyncio.run(admin(a))
    else:
        r = {"logins": logins, "sessions": sessions, "small": small, "large": large}[a.what](a)
    json.dump(r, sys.stdout)
    print()


if __name__ == "__main__":
    main()
