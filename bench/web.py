"""Web benchmark (issue 8 "Numbers"): the real server under an open-loop load over
PostgreSQL with 1,000,000 recordings and 100,000 activities.

    .venv/bin/python bench/web.py [--activities 100000] [--recordings 1000000]
        [--devices 500] [--rate 20] [--seconds 60] [--step-seconds 20] [--max-rate 200]
        [--workers 4] [--range-mib 2048] [--range-rate 2] [--keep]

Data: bench/compliance.py's set-based generator (imported, not copied) writes the agency,
devices, activities and ``--recordings / --activities`` segments per activity into a
database of its own (``witness_bench_web``, dropped afterwards unless ``--keep``); then a
few hundred open findings, the bench leader's account (password + TOTP, logged in over
HTTP like a person), grants on 2,000 random recordings and on one recording of
``--range-mib`` MiB made with ffmpeg (a short clip looped with ``-c copy``) and stored
through the real store pipeline (``storage.pipeline.store_file``).

Server: ``witness serve --no-worker --workers N`` (gunicorn, as ``make run`` starts it).

Load: an open-loop generator (a scheduler thread handing each request to a pool of
512 threads, http.client): request *i* is sent at ``t0 + i / rate``
whether or not earlier ones have answered; latency counts from that scheduled time, so a
slow server cannot slow the arrivals down (no coordinated omission). Each request is drawn
afresh — no URL is repeated on purpose and nothing is cached by the client:

* ``home`` ``/`` · ``search`` ``/search/`` with random filters (q: place, serial, officer,
  recording id or nothing; kind; date range; unit; type; finding; label; sometimes the
  ``after`` cursor of an earlier answer) · ``activity`` ``/activities/<random id>/`` ·
  ``player`` ``/recordings/<random granted id>/play/`` · ``list`` one of the list pages.

Phases: ``--seconds`` at ``--rate`` (target p95 ≤ 200 ms and 0 errors) with range requests
on the big recording at ``--range-rate``/s alongside (``Range: bytes=X-X+1MiB`` at a random
offset; time to first body byte, target p95 ≤ 50 ms); then the rate stepped up (×1.5 per
``--step-seconds`` step) until p95 > 500 ms or errors appear, reporting the highest rate
whose p95 stayed ≤ 500 ms.

A benchmark, not a test. Run it at a quiet moment: the server, PostgreSQL and the load
generator share the machine's cores.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_compliance", HERE / "compliance.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

DB = "witness_bench_web"
PASSWORD = "bench-Passw0rd-web"  # noqa: S105 - a throw-away database's account
MIB = 1024 * 1024
GRANTED = 2000
FINDINGS = 300
KINDS = ["activity", "case", "recording", "device", "person"]
LISTS = ["/activities/", "/devices/", "/findings/", "/requests/", "/cases/", "/register/"]
MIX = [("home", 10), ("search", 40), ("activity", 25), ("player", 10), ("list", 15)]


# -- data --------------------------------------------------------------------------------


def generate(args, home: Path) -> dict:
    from django.db import transaction

    segments = max(1, args.recordings // args.activities)
    gen.DB = DB
    gen.setup_django(home)
    started = time.perf_counter()
    with transaction.atomic():
        bench = gen.Bench(args.activities, segments, args.devices, 0)
        bench.people_and_devices()
        bench.activities()
        bench.recordings()
        bench.sequence()
    world = extras(bench, args)
    gen.execute("ANALYZE")
    world["generated_s"] = time.perf_counter() - started
    return world


def extras(bench, args) -> dict:
    """Open findings, the leader's account, grants and the big recording."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from witness.access.models import (
        AccessRequest,
        Grant,
        RequestItem,
        RequestKind,
        RequestStatus,
    )
    from witness.accounts.testing import confirmed_device
    from witness.activities.models import Activity
    from witness.findings.services import raise_finding
    from witness.org.models import Person
    from witness.recordings.models import Recording

    rng = random.Random(8)  # noqa: S311 - a sample, not a secret
    ids = list(Activity.objects.values_list("pk", flat=True))
    with transaction.atomic():
        for pk in rng.sample(ids, min(FINDINGS, len(ids))):
            act = Activity.objects.get(pk=pk)
            raise_finding("ACT-5.gap", act, {"gap_seconds": 90}, key=f"bench-{pk}",
                          unit=act.unit, occurred_at=act.arrived_at, actor="system:bench")
        leader = Person.objects.get(agency=bench.agency, name="局长")
        user = get_user_model().objects.create_user("bench-leader", password=PASSWORD)
        leader.user = user
        leader.save(update_fields=["user"])
        totp = confirmed_device(user)
    big = big_recording(bench, args.range_mib)
    lo = Recording.objects.order_by("pk").values_list("pk", flat=True).first()
    last = Recording.objects.order_by("-pk").values_list("pk", flat=True).first()
    sample = set(rng.sample(range(lo, last + 1), min(GRANTED, last - lo)))
    granted = list(Recording.objects.filter(pk__in=sample).values_list("pk", flat=True))
    now = timezone.now()
    with transaction.atomic():
        req = AccessRequest.objects.create(
            agency=bench.agency, kind=RequestKind.VIEWING, requester=leader,
            reason="基准测试", wanted_from=now - timedelta(hours=1),
            wanted_until=now + timedelta(days=2), status=RequestStatus.GRANTED,
            decided_at=now)
        RequestItem.objects.bulk_create([RequestItem(request=req, recording_id=pk)
                                         for pk in [*granted, big]])
        Grant.objects.bulk_create([
            Grant(request=req, person=leader, recording_id=pk, valid_from=now - timedelta(hours=1),
                  valid_until=now + timedelta(days=2)) for pk in [*granted, big]])
    return {"activity_ids": ids, "granted": granted, "big": big, "totp": totp,
            "units": [u.pk for u in bench.units], "start": bench.start.date(),
            "end": bench.now.date(), "n_dev": args.devices, "n_act": len(ids),
            "recordings": Recording.objects.count(), "first_recording": lo}


def big_recording(bench, mib: int) -> int:
    """A video of ``mib`` MiB (a short high-rate clip looped without re-encoding), stored
    through the real pipeline and attached to the first activity."""
    from witness.activities.models import Activity
    from witness.core.ffmpeg import ffmpeg
    from witness.recordings.models import Recording
    from witness.storage.config import get_backend
    from witness.storage.pipeline import store_file

    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        clip = work / "clip.mp4"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-t", "4",
               "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "64M", "-minrate", "64M",
               "-maxrate", "64M", "-bufsize", "64M", "-x264-params", "nal-hrd=cbr",
               "-an", str(clip))
        loops = max(0, -(-mib * MIB // clip.stat().st_size) - 1)
        big = work / "BIG_0001.MP4"
        ffmpeg("-stream_loop", str(loops), "-i", str(clip), "-c", "copy", str(big),
               timeout=1800)
        stored = store_file(big, get_backend(), actor="system:bench")
        size = stored.size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    like = Recording.objects.filter(activity__isnull=False).select_related("activity").first()
    act = Activity.objects.get(pk=like.activity_id)
    rec = Recording.objects.create(
        blob=stored.blob, device_id=like.device_id, kind="video",
        source_path="DCIM/100MEDIA/BIG_0001.MP4", source_path_bytes=b"DCIM/100MEDIA/BIG_0001.MP4",
        started_at=act.arrived_at, ended_at=act.departed_at, time_source="file_name",
        container="mov,mp4,m4a,3gp,3g2,mj2", video_codec="h264", browser_playable=True,
        issue_id=like.issue_id, holder_id=like.holder_id, activity=act,
        attribution="attributed", ingest_run_id=like.ingest_run_id)
    print(f"big recording #{rec.pk}: {size / MIB:,.0f} MiB stored", flush=True)
    return rec.pk


# -- server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, port: int, workers: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [gen.WITNESS, "serve", "--no-worker", "--workers", str(workers), "--port", str(port)],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the server exited: see {log}") from None
            time.sleep(0.3)
    raise SystemExit("the server did not start within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


# -- load --------------------------------------------------------------------------------


class Client:
    """A logged-in browser stand-in over http.client: its own cookies, one keep-alive
    connection per thread. Like a browser, it sends a request again on a fresh connection
    when the server had already closed the idle one it reused (gunicorn's threaded workers
    close keep-alive connections after a few idle seconds); the retry's time counts."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port,
                                                                timeout=60)
        return conn

    def request(self, method: str, path: str, *, params=None, body=None, headers=None,
                first_byte: bool = False):
        """(status, headers, text or None, seconds to the first body byte)."""
        if params:
            path = f"{path}?{urlencode(params)}"
        head = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                **(headers or {})}
        if body is not None:
            body = urlencode(body)
            head["Content-Type"] = "application/x-www-form-urlencoded"
        reused = getattr(self.local, "conn", None) is not None
        conn = self._conn()
        started = time.perf_counter()
        try:
            try:
                conn.request(method, path, body=body, headers=head)
                answer = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                conn.close()  # the server closed the idle connection: once more, afresh
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port,
                                                                    timeout=60)
                conn.request(method, path, body=body, headers=head)
                answer = conn.getresponse()
            first = answer.read(1)
            ttfb = time.perf_counter() - started
            rest = answer.read()
        except Exception:
            conn.close()
            self.local.conn = None
            raise
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie":
                key, _, val = value.split(";", 1)[0].partition("=")
                self.cookies[key.strip()] = val.strip()
        if answer.getheader("connection", "").lower() == "close" or answer.will_close:
            conn.close()
            self.local.conn = None
        text = None if first_byte else (first + rest).decode("utf-8", "replace")
        return answer.status, dict(answer.getheaders()), text, ttfb


def follow(client: Client, status: int, headers: dict) -> tuple[str, str]:
    """Follow redirects to the page they end on: (its path, its text)."""
    path, text = "", ""
    for _ in range(5):
        if status not in (301, 302, 303):
            break
        path = urlsplit(headers["Location"]).path
        status, headers, text, _ = client.request("GET", path)
    return path, text or ""


def log_in(client: Client, world) -> None:
    """Password, then the TOTP code, through the pages, as a person logs in."""
    from witness.accounts.testing import current_code

    def token(html: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    base = f"http://{client.host}:{client.port}"
    _, _, page, _ = client.request("GET", "/login/")
    status, headers, _, _ = client.request(
        "POST", "/login/", body={"username": "bench-leader", "password": PASSWORD,
                                 "csrfmiddlewaretoken": token(page)},
        headers={"Referer": f"{base}/login/"})
    verify_path, verify = follow(client, status, headers)
    if status != 302 or not verify_path.startswith("/account/otp/verify/"):
        raise SystemExit(f"the password step answered {status}, then {verify_path}")
    client.request("POST", verify_path, body={
        "code": current_code(world["totp"]), "csrfmiddlewaretoken": token(verify)},
        headers={"Referer": f"{base}{verify_path}"})
    status, _, _, _ = client.request("GET", "/")
    if status != 200:
        raise SystemExit(f"could not log in: the home page answered {status}")


class Load:
    def __init__(self, client: Client, world, rng: random.Random):
        self.client, self.world, self.rng = client, world, rng
        self.cursors: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def search_params(self) -> dict:
        r, w = self.rng, self.world
        p: dict[str, str] = {}
        q = r.random()
        if q < 0.2:
            p["q"] = f"bench:{r.randrange(w['n_act'])}"
        elif q < 0.35:
            p["q"] = f"DSJ-B{r.randrange(w['n_dev']):05d}"
        elif q < 0.5:
            p["q"] = f"执法员{r.randrange(w['n_dev']):04d}"
        elif q < 0.6:
            p["q"] = str(r.randint(w["first_recording"], w["first_recording"] + w["recordings"]))
        if r.random() < 0.6:
            p["kind"] = r.choice(KINDS)
        if r.random() < 0.5:
            span = (w["end"] - w["start"]).days
            a = w["start"] + timedelta(days=r.randrange(max(1, span)))
            p["date_from"] = a.isoformat()
            p["date_to"] = (a + timedelta(days=r.choice([1, 7, 30, 90]))).isoformat()
        if r.random() < 0.4:
            p["unit"] = str(r.choice(w["units"]))
        if r.random() < 0.3:
            p["type"] = "on_site_enforcement"
        if r.random() < 0.2:
            p["finding"] = r.choice(["open", "none"])
        if r.random() < 0.1:
            p["label"] = r.choice(["general", "internal", "privacy"])
        with self.lock:
            if self.cursors and r.random() < 0.1:
                kind, after = r.choice(self.cursors)
                p = {"kind": kind, "after": after}
        return p

    def draw(self) -> tuple[str, str, dict]:
        r, w = self.rng, self.world
        kind = r.choices([k for k, _ in MIX], [n for _, n in MIX])[0]
        if kind == "home":
            return kind, "/", {}
        if kind == "search":
            return kind, "/search/", self.search_params()
        if kind == "activity":
            return kind, f"/activities/{r.choice(w['activity_ids'])}/", {}
        if kind == "player":
            return kind, f"/recordings/{r.choice(w['granted'])}/play/", {}
        return kind, r.choice(LISTS), {}

    def page(self, due: float, drawn) -> tuple:
        kind, path, params = drawn
        try:
            status, _, text, _ = self.client.request("GET", path, params=params)
            ok = status == 200
            if kind == "search" and ok and params.get("kind"):
                m = re.search(r'[?&;]after=([^"&]+)', text)
                if m:
                    with self.lock:
                        self.cursors = [*self.cursors[-50:],
                                        (params["kind"], unquote(m.group(1)))]
        except Exception as exc:
            ok, status = False, type(exc).__name__
        return kind, time.perf_counter() - due, ok, status, path, params

    def range_probe(self, due: float, url: str, size: int, offset: int) -> tuple:
        headers = {"Range": f"bytes={offset}-{min(size, offset + MIB) - 1}"}
        try:
            status, _, _, ttfb = self.client.request("GET", url, headers=headers,
                                                     first_byte=True)
            ok = status == 206
        except Exception as exc:
            status, ok, ttfb = type(exc).__name__, False, float("nan")
        # from sending the request (a new connection) to the first byte of the body
        return "range", ttfb, ok, status, url, {}


def open_loop(load: Load, pool, rate: float, seconds: float, *, range_rate: float = 0,
              stream: tuple[str, int] | None = None) -> list:
    """Requests sent at fixed arrival times, each handed to the pool when due, whatever
    earlier ones are doing; the drawing happens here so that the pool adds no order."""
    t0 = time.perf_counter() + 0.05
    arrivals = [(t0 + i / rate, "page") for i in range(int(rate * seconds))]
    if stream and range_rate:
        arrivals += [(t0 + 0.37 / range_rate + i / range_rate, "range")
                     for i in range(int(range_rate * seconds))]
    futures = []
    for due, what in sorted(arrivals):
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if what == "page":
            futures.append(pool.submit(load.page, due, load.draw()))
        else:
            offset = load.rng.randrange(0, max(1, stream[1] - MIB))
            futures.append(pool.submit(load.range_probe, due, stream[0], stream[1], offset))
    return [f.result() for f in futures]


def pct(values: list[float], p: float) -> float:
    values = sorted(v for v in values if v == v)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def table(results: list) -> tuple[str, float, int]:
    lines = ["| page type |     n | p50 ms | p95 ms | p99 ms | errors |",
             "|-----------|-------|--------|--------|--------|--------|"]
    pages = [r for r in results if r[0] != "range"]
    for kind in [*(k for k, _ in MIX), "all pages"]:
        rows = pages if kind == "all pages" else [r for r in pages if r[0] == kind]
        if not rows:
            continue
        ms = [r[1] * 1000 for r in rows]
        errors = sum(1 for r in rows if not r[2])
        lines.append(f"| {kind:<9} | {len(rows):5d} | {pct(ms, 50):6.0f} | {pct(ms, 95):6.0f} |"
                     f" {pct(ms, 99):6.0f} | {errors:6d} |")
    p95 = pct([r[1] * 1000 for r in pages], 95)
    return "\n".join(lines), p95, sum(1 for r in pages if not r[2])


def error_sample(results: list) -> list[str]:
    return [f"{kind} {status} {path} {params}"
            for kind, _, ok, status, path, params in results if not ok][:8]


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def run_load(args, world, port: int) -> int:
    client = Client("127.0.0.1", port)
    log_in(client, world)
    load = Load(client, world, random.Random(args.seed))  # noqa: S311 - not for secrets
    status, _, play, _ = client.request("GET", f"/recordings/{world['big']}/play/")
    m = re.search(r'src="(/recordings/\d+/stream/\?s=[^"]+)"', play or "")
    if status != 200 or not m:
        raise SystemExit(f"the big recording's player page failed: {status}")
    url = m.group(1).replace("&amp;", "&")
    _, headers, _, _ = client.request("HEAD", url, first_byte=True)
    stream = (url, int(headers.get("Content-Length", args.range_mib * MIB)))
    with ThreadPoolExecutor(max_workers=512) as pool:
        open_loop(load, pool, min(args.rate, 5), 3)  # warm-up: every worker imports
        results = open_loop(load, pool, args.rate, args.seconds, range_rate=args.range_rate,
                            stream=stream)
        text, p95, errors = table(results)
        ranges = [r[1] * 1000 for r in results if r[0] == "range"]
        range_errors = sum(1 for r in results if r[0] == "range" and not r[2])
        r95 = pct(ranges, 95)
        print(f"\n### open loop at {args.rate:g} requests/s for {args.seconds:g} s"
              f" (+ {args.range_rate:g} range requests/s on the big recording)\n")
        print(text)
        print("\n| figure                                   | measured | target   |        |")
        print("|------------------------------------------|----------|----------|--------|")
        print(f"| p95, every page, at {args.rate:<5g}/s              | {p95:5.0f} ms | ≤ 200 ms |"
              f" {verdict(p95 <= 200):6} |")
        print(f"| errors at {args.rate:<5g}/s                        | {errors:8d} | 0        |"
              f" {verdict(errors == 0):6} |")
        print(f"| Range TTFB p95, {stream[1] / MIB:7,.0f} MiB recording  | {r95:5.0f} ms |"
              f" ≤ 50 ms  | {verdict(r95 <= 50 and not range_errors):6} |")
        print(f"\nrange requests: {len(ranges)}, errors {range_errors}, TTFB p50"
              f" {pct(ranges, 50):.1f} ms, p99 {pct(ranges, 99):.1f} ms")
        for line in error_sample(results):
            print("  error:", line)

        best, rate = None, args.rate
        print(f"\n### stepping the rate up ({args.step_seconds:g} s per step)\n")
        print("| rate /s | requests | p50 ms | p95 ms | p99 ms | errors |")
        print("|---------|----------|--------|--------|--------|--------|")
        while rate <= args.max_rate:
            step = open_loop(load, pool, rate, args.step_seconds)
            ms = [r[1] * 1000 for r in step]
            errs = sum(1 for r in step if not r[2])
            print(f"| {rate:7.1f} | {len(step):8d} | {pct(ms, 50):6.0f} | {pct(ms, 95):6.0f} |"
                  f" {pct(ms, 99):6.0f} | {errs:6d} |", flush=True)
            if pct(ms, 95) > 500 or errs:
                break
            best = rate
            rate = round(rate * 1.5, 1)
    cap = " (reached --max-rate)" if rate > args.max_rate else ""
    print(f"\nhighest rate with p95 ≤ 500 ms and no errors: "
          f"{best if best is not None else 'none (the first step missed)'} requests/s{cap}")
    return 0 if p95 <= 200 and errors == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--recordings", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s of the main run")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--max-rate", type=float, default=200.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    parser.add_argument("--range-mib", type=int, default=2048, help="size of the big recording")
    parser.add_argument("--range-rate", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.devices > args.activities:
        args.devices = max(10, args.activities // 10)

    gen.psql(f"DROP DATABASE IF EXISTS {DB}")
    gen.psql(f"CREATE DATABASE {DB}")
    home = Path(tempfile.mkdtemp(prefix="witness-bench-web-"))
    env = {**os.environ, "DATABASE_URL": gen.PG + DB, "WITNESS_HOME": str(home),
           "WITNESS_DEBUG": "false"}
    env.pop("WITNESS_STORAGE", None)
    env.pop("WITNESS_REPLICA", None)
    server = None
    try:
        subprocess.run([gen.WITNESS, "migrate", "--no-input"], env=env, check=True,
                       capture_output=True)
        os.environ.pop("WITNESS_STORAGE", None)
        os.environ.pop("WITNESS_REPLICA", None)
        world = generate(args, home)
        from django.db import connections

        connections.close_all()
        port = free_port()
        log = home / "server.log"
        server = start_server(env, port, args.workers, log)
        print(f"bench/web.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cores {os.cpu_count()}"
              f"  load average {os.getloadavg()[0]:.1f}  gunicorn workers {args.workers}")
        print(f"data: {world['n_act']:,} activities, {world['recordings']:,} recordings,"
              f" {args.devices} devices; generated in {world['generated_s']:.0f} s")
        return run_load(args, world, port)
    finally:
        if server is not None:
            stop_server(server)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            gen.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"kept: database {DB}, WITNESS_HOME {home}")


if __name__ == "__main__":
    sys.exit(main())
