"""Ingest benchmark (issue 3, ING-4): store_file throughput against the machine's own limits.

    .venv/bin/python bench/ingest.py [--file SRC] [--size-mib 2048] [--dir DIR] [--repeat N]

On one file (default: 2 GiB of random data, created on the same filesystem as the store)
it measures, each time starting from an uncached source (posix_fadvise DONTNEED):

* ``openssl dgst -sha256`` and ``-sm3`` rates,
* a durable copy ``dd if=SRC of=DST bs=8M conv=fsync`` to the same filesystem,
* an uncached read (``dd if=SRC of=/dev/null bs=8M`` after dropping the source),

then ``store_file`` into a fresh local store for the profile ("sha256",) and for
("sha256", "sm3"), including the fsync and the uncached read-back verification. The reference
of a profile is the slowest of its digests' openssl rates, the durable copy and the uncached
read; the target is store_file ≥ 0.8 × reference. With ``--repeat N`` these figures are the
median of N runs.

Then the whole pipeline from the shell, on a demo agency (profile sha256 only): ``witness
ingest`` of a volume holding the same file (probe, copy, verification, database rows,
audit), and ``witness station --once --jobs 8`` with eight docked volumes holding random
files of the same total size, uncached; target: aggregate ≥ 0.8 × the store_file sha256
figure (issue 3, station mode). Peak RSS is this process's ru_maxrss and, from wait4, that of
`witness ingest` and of `witness station` with its per-volume children.

A benchmark, not a test: it needs about three times the file size of free disk space.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def drop_cache(path: Path) -> None:
    """Evict a file's pages from the page cache (written pages are flushed first)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def make_source(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(8 * MiB, left)
            fh.write(os.urandom(n))
            left -= n
        fh.flush()
        os.fsync(fh.fileno())


def settle() -> None:
    """Let the disk finish earlier work (writeback, discards of deleted copies: the root
    filesystem here is mounted with ``discard``) before the next measurement starts."""
    os.sync()
    time.sleep(3)


def timed(run, src: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        settle()
        drop_cache(src)
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def shell(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measured(*args: str) -> float:
    """Run ``witness ARGS``; its peak RSS in MiB (its own and its waited children's, e.g. the
    station's per-volume children) from wait4 — not that of other commands of the run
    (``witness demo`` hashes passwords with Argon2, which takes 100 MiB by design)."""
    child = subprocess.Popen([str(Path(sys.executable).with_name("witness")), *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"witness {args[0]} exited with {child.returncode}")
    return usage.ru_maxrss / 1024


def witness(*args: str) -> str:
    done = subprocess.run([str(Path(sys.executable).with_name("witness")), *args],
                          check=True, capture_output=True, text=True)
    return done.stdout


def camera_volume(folder: Path, serial: str, size: int, seq: int, source: Path | None = None):
    """A docked camera: its identity file and one segment named as the camera names it
    (random bytes: the probe finds no media in it and the file is stored and flagged, as
    a damaged recording would be; the copy, digests and verification are the same)."""
    from witness.ingest.naming import format_name

    (folder / "DCIM").mkdir(parents=True)
    (folder / "DEVICE.TXT").write_text(f"SERIAL={serial}\n")
    name = folder / "DCIM" / format_name(serial, "B1", datetime(2026, 11, 30, 9, 0), seq)
    if source is not None:
        os.link(source, name)
    else:
        make_source(name, size)
    return name


def whole_pipeline(work: Path, src: Path, volumes: int):
    """``witness ingest`` of one volume holding the source file, and ``witness station``
    with ``volumes`` volumes (the same total size) docked at once: the station's figure is
    total bytes over the docking window (first child started to last finished, from the
    station's own rows) and, beside it, over the command's wall-clock time."""
    from witness.devices.models import Device, DeviceKind
    from witness.devices.services import register_device
    from witness.station.models import StationVolume

    witness("demo", "--no-recordings")
    unit = Device.objects.order_by("serial").first().unit
    serials = [register_device(kind=DeviceKind.BODY_CAMERA, serial=f"BENCH-CAM-{k}", unit=unit,
                               actor="bench").serial for k in range(volumes + 1)]
    size = src.stat().st_size
    single = work / "single"
    camera_volume(single, serials[0], size, 1, source=src)
    dock = work / "dock"
    files = [camera_volume(dock / f"CAM-{k}", serial, size // volumes, 1)
             for k, serial in enumerate(serials[1:volumes + 1], start=1)]

    settle()
    drop_cache(src)
    start = time.perf_counter()
    ingest_rss = measured("ingest", str(single), "--json")
    volume_rate = size / (time.perf_counter() - start)
    settle()
    for path in files:
        drop_cache(path)
    start = time.perf_counter()
    station_rss = measured("station", "--watch", str(dock), "--once", "--settle", "0",
                           "--interval", "0.2", "--jobs", str(volumes), "--json")
    wall = time.perf_counter() - start
    rows = list(StationVolume.objects.filter(watch_dir=str(dock)))
    assert len(rows) == volumes and all(r.state == "done" for r in rows), rows
    window = (max(r.finished_at for r in rows) - min(r.started_at for r in rows))
    total = sum(p.stat().st_size for p in files)
    return volume_rate, total / window.total_seconds(), total / wall, max(ingest_rss,
                                                                          station_rss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, help="an existing source file to use")
    parser.add_argument("--size-mib", type=int, default=2048, help="size of the made file")
    parser.add_argument("--dir", type=Path, default=ROOT / "var",
                        help="where the store and the copies go (default: ./var)")
    parser.add_argument("--repeat", type=int, default=1, help="median of N runs")
    parser.add_argument("--volumes", type=int, default=8,
                        help="device volumes docked at once for the station figure")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=args.dir))
    os.environ["WITNESS_HOME"] = str(work / "home")
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "witness.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from witness.storage.backends.local import LocalBackend
    from witness.storage.pipeline import store_file

    call_command("migrate", verbosity=0)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load_before = os.getloadavg()[0]
    try:
        src = args.file or work / "source.bin"
        if args.file is None:
            make_source(src, args.size_mib * MiB)
        size = src.stat().st_size
        dst = work / "dd-copy.bin"

        def dd_copy():
            shell("dd", f"if={src}", f"of={dst}", "bs=8M", "conv=fsync")
            dst.unlink()

        rates: dict[str, float] = {}
        rates["openssl dgst -sha256"] = size / timed(
            lambda: shell("openssl", "dgst", "-sha256", str(src)), src, args.repeat)
        rates["openssl dgst -sm3"] = size / timed(
            lambda: shell("openssl", "dgst", "-sm3", str(src)), src, args.repeat)
        rates["dd bs=8M conv=fsync (durable copy)"] = size / timed(dd_copy, src, args.repeat)
        rates["uncached read (dd bs=8M)"] = size / timed(
            lambda: shell("dd", f"if={src}", "of=/dev/null", "bs=8M"), src, args.repeat)

        def store(profile):
            root = work / "store"
            try:
                stored = store_file(src, LocalBackend(root), profile)
                assert stored.created and stored.size == size
            finally:
                shutil.rmtree(root, ignore_errors=True)

        results = []
        for profile, digests in ((("sha256",), ["sha256"]), (("sha256", "sm3"), ["sha256", "sm3"])):
            reference = min([rates[f"openssl dgst -{d}"] for d in digests]
                            + [rates["dd bs=8M conv=fsync (durable copy)"],
                               rates["uncached read (dd bs=8M)"]])
            rate = size / timed(lambda p=profile: store(p), src, args.repeat)
            results.append(("+".join(profile), rate, reference))
        single = results[0][1]  # the demo agency's profile (lushan-2019) is sha256 only
        pipeline = whole_pipeline(work, src, args.volumes)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bench/ingest.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  file {size / MiB:.0f} MiB"
          f"  cores {os.cpu_count()}  repeat {args.repeat} (median)  load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print()
    print(f"| {'measurement':<52} | {'MB/s':>7} | {'ratio':>6} |")
    print(f"|{'-' * 54}|{'-' * 9}|{'-' * 8}|")
    for name, rate in rates.items():
        print(f"| {name:<52} | {rate / 1e6:7.0f} | {'':>6} |")
    for name, rate, reference in results:
        print(f"| {'reference for ' + name + ' (slowest applicable)':<52} | "
              f"{reference / 1e6:7.0f} | {'':>6} |")
        print(f"| {'store_file ' + name + ' (fsync + verified read-back)':<52} | "
              f"{rate / 1e6:7.0f} | {rate / reference:6.2f} |")
    volume_rate, station_rate, station_wall, children_peak = pipeline
    print(f"| {'witness ingest of one volume holding the file':<52} | "
          f"{volume_rate / 1e6:7.0f} | {volume_rate / results[0][2]:6.2f} |")
    label = f"witness station, {args.volumes} volumes at once (aggregate)"
    print(f"| {label:<52} | {station_rate / 1e6:7.0f} | {station_rate / single:6.2f} |")
    print(f"| {'  the same, counting the station start-up too':<52} | "
          f"{station_wall / 1e6:7.0f} | {station_wall / single:6.2f} |")
    print()
    print("ratios: store_file and witness ingest against the reference of their profile; "
          f"the station against store_file sha256 ({single / 1e6:.0f} MB/s, target ≥ 0.8).")
    print(f"peak RSS of witness ingest and witness station (with its children): "
          f"{children_peak:.0f} MiB (target ≤ 150)")
    print(f"peak RSS of this process: {peak:.0f} MiB (target ≤ 150); "
          f"{baseline:.0f} MiB of it before the first store_file (Django, migrate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
