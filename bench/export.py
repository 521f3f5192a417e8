"""Export benchmark (issue 7 "Numbers"; EVD-1, ING-4): ``witness export`` of 2 GiB of
originals against the machine's own limits, measured on the same files in the same run.

    .venv/bin/python bench/export.py [--size-mib 2048] [--files 4] [--dir DIR] [--repeat N]

Makes ``--files`` random files (``/dev/urandom``-grade, ``os.urandom``) of ``--size-mib`` in
all under ``DIR`` (default ./var), stores them through the real store pipeline
(``store_file``: one read, all digests, fsync, verified read-back) into a local store, as
recordings of one activity. Then, each time from uncached sources (posix_fadvise DONTNEED on
every stored object, as bench/ingest.py does):

* ``openssl dgst -sha256`` and ``-sm3`` over the stored objects,
* a durable copy of each, ``dd bs=8M conv=fsync``, to the same filesystem,
* ``export.export`` of the activity into a new folder on the same filesystem, for a profile
  with ("sha256",) and one with ("sha256", "sm3"): the package with its manifests, the two
  PDFs and the signature.

The reference of a profile is the slowest of its digests' openssl rates and the durable
copy; the target is export ≥ 0.8 × reference (the copy phase alone is shown beside the whole
export). Peak RSS is this process's ru_maxrss (target: flat in file size).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import drop_cache, make_source, settle, shell  # noqa: E402

MiB = 1024 * 1024


def timed(run, sources: list[Path], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        settle()
        for path in sources:
            drop_cache(path)
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048, help="originals in all")
    parser.add_argument("--files", type=int, default=4, help="how many originals")
    parser.add_argument("--dir", type=Path, default=ROOT / "var",
                        help="where the store and the packages go (default: ./var)")
    parser.add_argument("--repeat", type=int, default=1, help="median of N runs")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-export-", dir=args.dir))
    os.environ["WITNESS_HOME"] = str(work / "home")
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["WITNESS_STORAGE"] = f"file://{work / 'store'}"
    os.environ["WITNESS_REPLICA"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "witness.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from witness.evidence import export
    from witness.profiles import services as profiles
    from witness.recordings.models import Attribution
    from witness.storage.config import get_backend
    from witness.storage.pipeline import store_file
    from witness.testing import factories as f

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load_before = os.getloadavg()[0]
    try:
        agency = f.AgencyFactory()
        unit = f.UnitFactory(agency=agency, has_field_duty=True)
        officer = f.PersonFactory(unit=unit)
        activity = f.ActivityFactory(unit=unit)
        device = f.DeviceFactory(unit=unit)
        profiles.apply(agency, "lushan-2019", actor="bench")
        backend = get_backend()
        size = args.size_mib * MiB // args.files
        stored = []
        for k in range(args.files):
            src = work / f"source-{k}.MP4"
            make_source(src, size)
            blob = store_file(src, backend, ("sha256", "sm3"), actor="bench").blob
            src.unlink()
            f.RecordingFactory(blob=blob, device=device, activity=activity, holder=officer,
                               source_path=f"DCIM/BENCH_{k:04d}.MP4",
                               attribution=Attribution.ATTRIBUTED)
            stored.append(backend.path(blob.key))
        total = size * args.files
        stored_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        files = [str(p) for p in stored]

        def dd_copies():
            for k, p in enumerate(files):
                dst = work / f"dd-{k}.bin"
                shell("dd", f"if={p}", f"of={dst}", "bs=8M", "conv=fsync")
            for k in range(len(files)):
                (work / f"dd-{k}.bin").unlink()

        rates: dict[str, float] = {}
        rates["openssl dgst -sha256"] = total / timed(
            lambda: shell("openssl", "dgst", "-sha256", *files), stored, args.repeat)[0]
        rates["openssl dgst -sm3"] = total / timed(
            lambda: shell("openssl", "dgst", "-sm3", *files), stored, args.repeat)[0]
        rates["dd bs=8M conv=fsync (durable copy)"] = total / timed(
            dd_copies, stored, args.repeat)[0]

        sm3_profile = profiles.new("bench-sm3", "lushan-2019")
        text = sm3_profile.read_text(encoding="utf-8")
        results = []
        for name, digests in (("sha256", ["sha256"]), ("sha256+sm3", ["sha256", "sm3"])):
            if "sm3" in digests:
                sm3_profile.write_text(text.replace('digests = ["sha256"]',
                                                    'digests = ["sha256", "sm3"]'),
                                       encoding="utf-8")
                profiles.apply(agency, "bench-sm3", actor="bench")
            assert list(profiles.active(agency)[1].digests) == digests

            def run():
                out = work / "package"
                try:
                    return export.export(activity, out, actor="bench")
                finally:
                    shutil.rmtree(out, ignore_errors=True)

            seconds, data = timed(run, stored, args.repeat)
            reference = min([rates[f"openssl dgst -{d}"] for d in digests]
                            + [rates["dd bs=8M conv=fsync (durable copy)"]])
            results.append((name, total / seconds, total / data["copy_seconds"], reference))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bench/export.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  originals "
          f"{total / MiB:.0f} MiB in {args.files} files  cores {os.cpu_count()}  repeat "
          f"{args.repeat} (median)  load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print()
    print(f"| {'measurement':<58} | {'MB/s':>7} | {'ratio':>6} |")
    print(f"|{'-' * 60}|{'-' * 9}|{'-' * 8}|")
    for name, rate in rates.items():
        print(f"| {name:<58} | {rate / 1e6:7.0f} | {'':>6} |")
    for name, rate, copy_rate, reference in results:
        print(f"| {'reference for ' + name + ' (slowest applicable)':<58} | "
              f"{reference / 1e6:7.0f} | {'':>6} |")
        print(f"| {'witness export, ' + name + ' (whole package, PDFs, signature)':<58} | "
              f"{rate / 1e6:7.0f} | {rate / reference:6.2f} |")
        print(f"| {'  its copy phase (read, all digests, write, fsync)':<58} | "
              f"{copy_rate / 1e6:7.0f} | {copy_rate / reference:6.2f} |")
    print()
    print("ratios: against the slowest of the profile's openssl dgst rates and the durable "
          "copy, on the same files in the same run (target ≥ 0.8).")
    print(f"peak RSS of this process: {peak:.0f} MiB; {baseline:.0f} MiB before the first "
          f"store_file (Django, migrate), {stored_peak:.0f} MiB after storing the originals and "
          "before the first export (the exports add the copy's buffer pool and Typst with "
          "the CJK fonts for the two PDFs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
