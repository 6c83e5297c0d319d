"""Ferry serving a bucket against a direct S3 client on the same store, in one run (bench/s3.sh).

    s3bench.py --endpoint URL --bucket B --ftp-port P --ferry-pid PID --data DIR --reps N --out FILE
               [--part-size BYTES --parts-in-flight N] [--only SCENARIO,...]

Scenarios, each run REPS times interleaved (direct, ferry, direct, ferry...), medians reported:
  retr-1g   1 GiB download: direct = one streamed GetObject; ferry = RETR (ftplib, 64 KiB reads),
            with Ferry's and the store's CPU time (and --compare's build after it)
  stor-1g   1 GiB upload: direct = boto3 upload_fileobj, multipart with Ferry's part size and parts in
            flight; ferry = STOR (ftplib, 1 MiB writes); the server's RSS is sampled every 20 ms
  retr-1000 1,000 x 4 KiB downloads, one client, one after the other (GetObject / RETR on one session)
  stor-1000 1,000 x 4 KiB uploads, one client (PutObject / STOR on one session)
  list-10k  a directory of 10,000 objects: direct = ListObjectsV2 pages with delimiter '/'; ferry =
            LIST; time to the first byte (first page) and to the end
Every 1 GiB transfer is checked with SHA-256 against the source file, outside the timed part.
With --ftp-port-b, a second Ferry (another build, bench/s3.sh --compare) runs right after the first
in the small-file scenarios ("ferry-b"): an interleaved A/B of two builds on the same store.
Each run also records the CPU time (ms) it took, which a loaded machine stretches far less than
wall-clock time: the benchmark client's own (client_cpu_ms), Ferry's (server_cpu_ms, from
/proc/PID/stat) and the store's (store_cpu_ms: the Swift and memcached processes given by --store-pids).
"""
import argparse
import concurrent.futures
import ftplib
import hashlib
import io
import json
import os
import statistics
import threading
import time

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

GIB = 1024 ** 3
MIB = 1024 ** 2


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--ftp-port", type=int, required=True)
    p.add_argument("--ferry-pid", type=int, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--part-size", type=int, default=8 * MIB)
    p.add_argument("--parts-in-flight", type=int, default=4)
    p.add_argument("--ftp-port-b", type=int, help="a second Ferry (another build) run after the first in the small-file scenarios")
    p.add_argument("--ferry-pid-b", type=int)
    p.add_argument("--store-pids", default="", help="comma-separated pids of the store's processes (CPU time)")
    p.add_argument("--only", default="")
    p.add_argument("--out", required=True)
    return p.parse_args()


def s3client(endpoint):
    # Swift's s3api: path-style, region us-east-1; botocore from Debian sends no aws-chunked bodies.
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test:tester", aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32, retries={"max_attempts": 1}))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            h.update(chunk)
    return h.hexdigest()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """The server's VmRSS every 20 ms while a transfer runs: the peak above the value at start."""

    def __init__(self, pid):
        self.pid, self.stop, self.peak = pid, threading.Event(), 0
        self.start = rss_kib(pid)

    def __enter__(self):
        def run():
            while not self.stop.is_set():
                self.peak = max(self.peak, rss_kib(self.pid))
                time.sleep(0.02)
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pids):
    """User + system CPU time of the processes, in ms (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total * 1000 / CLK_TCK


class CpuMeter:
    """CPU ms spent by this client, by Ferry and by the store between enter and exit."""

    def __init__(self, server_pid, store_pids):
        self.server, self.store = [server_pid], store_pids

    def __enter__(self):
        self.t0 = (time.process_time(), cpu_ms(self.server), cpu_ms(self.store))
        return self

    def __exit__(self, *exc):
        c, f, s = self.t0
        self.values = {"client_cpu_ms": (time.process_time() - c) * 1000,
                       "server_cpu_ms": cpu_ms(self.server) - f, "store_cpu_ms": cpu_ms(self.store) - s}


def count_keys(s3, bucket, prefix):
    """Objects under prefix whose body is 4 KiB or a zero-byte marker: what a 1,000-file upload left."""
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        n += sum(1 for o in page.get("Contents", []) if o["Size"] in (4096, 0))
    return n


def ftp(port):
    f = ftplib.FTP(timeout=600)
    f.connect("127.0.0.1", port)
    f.login("bench", "bench")
    f.voidcmd("TYPE I")
    return f


def main():
    a = parse()
    only = set(filter(None, a.only.split(",")))
    want = lambda s: not only or s in only
    s3 = s3client(a.endpoint)
    big = os.path.join(a.data, "1g.bin")
    big_sha = sha256_file(big)
    small = os.urandom(4096)
    results = {"scenarios": {}, "rss": {}, "part_size": a.part_size, "parts_in_flight": a.parts_in_flight}
    store_pids = [int(p) for p in a.store_pids.split(",") if p]
    ferries = [("ferry", a.ftp_port, a.ferry_pid)]
    if a.ftp_port_b:
        ferries.append(("ferry-b", a.ftp_port_b, a.ferry_pid_b))

    def record(scenario, client, **values):
        results["scenarios"].setdefault(scenario, {}).setdefault(client, []).append(values)
        print(scenario, client, json.dumps(values), flush=True)

    # --- fixture objects: 1 GiB to download, 1,000 small ones, a 10,000-object directory --------
    s3.put_object(Bucket=a.bucket, Key="up/", Body=b"")  # the upload directory's marker (what MKD makes)
    if want("retr-1g"):
        s3.upload_file(big, a.bucket, "fixture/1g.bin",
                       Config=TransferConfig(multipart_chunksize=a.part_size, max_concurrency=a.parts_in_flight))
    if want("retr-1000") or want("list-10k"):
        def put(key):
            s3.put_object(Bucket=a.bucket, Key=key, Body=small)
        keys = [f"fixture/small/s{i:04d}" for i in range(1000)]
        if want("list-10k"):
            keys += [f"fixture/list/o{i:05d}" for i in range(10000)]
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            list(pool.map(put, keys))

    for rep in range(a.reps):
        if want("retr-1g"):
            t = time.perf_counter()
            body = s3.get_object(Bucket=a.bucket, Key="fixture/1g.bin")["Body"]
            h, n = hashlib.sha256(), 0
            # The hash is part of both clients' loop alike (ftplib's callback below does the same).
            while chunk := body.read(MIB):
                h.update(chunk)
                n += len(chunk)
            record("retr-1g", "direct", seconds=time.perf_counter() - t, bytes=n, ok=h.hexdigest() == big_sha)
            # With --compare the two builds take turns going first (a page cache or a store warmed by
            # the one before favours neither).
            for label, port, pid in (ferries if rep % 2 == 0 else ferries[::-1]):
                f = ftp(port)
                h, count = hashlib.sha256(), [0]
                def take(chunk):
                    h.update(chunk)
                    count[0] += len(chunk)
                with CpuMeter(pid, store_pids) as cpu:
                    t = time.perf_counter()
                    # 64 KiB, not 1 MiB: ftplib's retrbinary is one sock.recv(blocksize) per chunk, and a
                    # 1 MiB recv allocates 1 MiB and shrinks it to what arrived (~64 KiB on loopback): that
                    # costs the client ~4x (157 against 1,285 MiB/s from a local file, vsftpd alike).
                    f.retrbinary("RETR /fixture/1g.bin", take, blocksize=64 * 1024)
                    seconds = time.perf_counter() - t
                record("retr-1g", label, seconds=seconds, bytes=count[0], ok=h.hexdigest() == big_sha, **cpu.values)
                f.quit()
        if want("stor-1g"):
            t = time.perf_counter()
            with open(big, "rb") as src:
                s3.upload_fileobj(src, a.bucket, f"up/direct-{rep}.bin",
                                  Config=TransferConfig(multipart_threshold=a.part_size, multipart_chunksize=a.part_size,
                                                        max_concurrency=a.parts_in_flight, use_threads=True))
            seconds = time.perf_counter() - t
            record("stor-1g", "direct", seconds=seconds, bytes=GIB,
                   ok=s3.head_object(Bucket=a.bucket, Key=f"up/direct-{rep}.bin")["ContentLength"] == GIB)
            f = ftp(a.ftp_port)
            with RssSampler(a.ferry_pid) as rss, open(big, "rb") as src:
                t = time.perf_counter()
                f.storbinary(f"STOR /up/ferry-{rep}.bin", src, blocksize=MIB)
                seconds = time.perf_counter() - t
            f.quit()
            back = hashlib.sha256()
            body = s3.get_object(Bucket=a.bucket, Key=f"up/ferry-{rep}.bin")["Body"]
            while chunk := body.read(MIB):
                back.update(chunk)
            record("stor-1g", "ferry", seconds=seconds, bytes=GIB, ok=back.hexdigest() == big_sha,
                   rss_start_kib=rss.start, rss_peak_kib=rss.peak, rss_growth_kib=rss.peak - rss.start)
        if want("retr-1000"):
            with CpuMeter(a.ferry_pid, store_pids) as cpu:
                t = time.perf_counter()
                ok = all(s3.get_object(Bucket=a.bucket, Key=f"fixture/small/s{i:04d}")["Body"].read() == small for i in range(1000))
                seconds = time.perf_counter() - t
            record("retr-1000", "direct", seconds=seconds, files=1000, ok=ok, **cpu.values)
            for label, port, pid in ferries:
                f = ftp(port)
                got = []
                with CpuMeter(pid, store_pids) as cpu:
                    t = time.perf_counter()
                    for i in range(1000):
                        buf = io.BytesIO()
                        f.retrbinary(f"RETR /fixture/small/s{i:04d}", buf.write)
                        got.append(buf.getvalue() == small)
                    seconds = time.perf_counter() - t
                record("retr-1000", label, seconds=seconds, files=1000, ok=all(got), **cpu.values)
                f.quit()
        if want("stor-1000"):
            with CpuMeter(a.ferry_pid, store_pids) as cpu:
                t = time.perf_counter()
                for i in range(1000):
                    s3.put_object(Bucket=a.bucket, Key=f"up/small-direct-{rep}/s{i:04d}", Body=small)
                seconds = time.perf_counter() - t
            record("stor-1000", "direct", seconds=seconds, files=1000,
                   ok=count_keys(s3, a.bucket, f"up/small-direct-{rep}/") == 1000, **cpu.values)
            for label, port, pid in ferries:
                f = ftp(port)
                f.mkd(f"/up/small-{label}-{rep}")
                with CpuMeter(pid, store_pids) as cpu:
                    t = time.perf_counter()
                    for i in range(1000):
                        f.storbinary(f"STOR /up/small-{label}-{rep}/s{i:04d}", io.BytesIO(small))
                    seconds = time.perf_counter() - t
                record("stor-1000", label, seconds=seconds, files=1000,
                       ok=count_keys(s3, a.bucket, f"up/small-{label}-{rep}/") == 1000 + 1, **cpu.values)  # + the MKD marker
                f.quit()
        if want("list-10k"):
            t = time.perf_counter()
            first, names, token = None, 0, None
            while True:
                kw = {"ContinuationToken": token} if token else {}
                page = s3.list_objects_v2(Bucket=a.bucket, Prefix="fixture/list/", Delimiter="/", **kw)
                first = first or time.perf_counter() - t
                names += len(page.get("Contents", []))
                if not page.get("IsTruncated"):
                    break
                token = page["NextContinuationToken"]
            record("list-10k", "direct", first_byte=first, seconds=time.perf_counter() - t, entries=names, ok=names == 10000)
            f = ftp(a.ftp_port)
            t = time.perf_counter()
            conn = f.transfercmd("LIST /fixture/list")
            first, data = None, bytearray()
            while chunk := conn.recv(256 * 1024):
                first = first or time.perf_counter() - t
                data += chunk
            conn.close()
            f.voidresp()
            seconds = time.perf_counter() - t
            lines = data.decode().splitlines()
            record("list-10k", "ferry", first_byte=first, seconds=seconds, entries=len(lines), ok=len(lines) == 10000)
            f.quit()

    with open(a.out, "w") as out:
        json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
