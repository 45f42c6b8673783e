"""`make bench`: run every benchmark of the portal and print a summary table.

Each benchmark is its own script (`python -m bench.<name>`), run in a child process with a time
limit, so one that fails or hangs is reported and the others still run. Each prints its figures
as it goes and one `BENCH-RESULT {json}` line, collected here for the table at the end.

The benchmark database (PostgreSQL, BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/portal_bench) is dropped, created and migrated first, and
dropped again at the end (BENCH_KEEP_DB=1 keeps it). Redis keys are written under a fresh
prefix per script and deleted by it.

Run one or some: `python bench/run.py overhead load`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/run.py`: import the project, not this folder's modules, by their names.
sys.path[0] = str(ROOT)

from bench.common import RESULT_MARK, drop_database, on_sigterm_exit, reset_database  # noqa: E402

#: (script, what it measures, time limit in seconds), in running order: the in-process and
#: light ones first, the one that writes a million rows last.
BENCHMARKS = [
    ("calls", "3. upstream calls and database queries per page", 180),
    ("overhead", "1. portal overhead over a 50 ms upstream", 180),
    ("throughput", "2. cached apps page vs bare view, requests per second", 180),
    ("weight", "6. apps page weight", 120),
    ("load", "4. 50 clients x 20 creates on PostgreSQL and Redis", 300),
    ("fanout", "7. several upstream calls at once, and repeat views that do not wait", 300),
    ("activity_1m", "5. activity page with 1,000,000 entries", 400),
]


def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    date = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())
    return [
        f"date (UTC):  {date}",
        f"cpus:        {len(os.sched_getaffinity(0))} ({platform.machine()}), {model}",
        f"python:      {platform.python_version()} ({sys.executable})",
        f"DEBUG:       {os.environ.get('DEBUG', '')!r}",
        f"load avg:    {load(warn=True)}",
    ]


def load(*, warn: bool = False) -> str:
    """The 1/5/15-minute load averages; anything else running skews every figure."""
    one, five, fifteen = os.getloadavg()
    busy = warn and one > 0.5 * len(os.sched_getaffinity(0))
    warning = "  (WARNING: the machine is busy; figures will be pessimistic)" if busy else ""
    return f"{one:.2f} {five:.2f} {fifteen:.2f}{warning}"


def run_one(name: str, limit: int) -> tuple[dict | None, str]:
    """Run `python -m bench.<name>`, echoing its output; (its result or None, error or "")."""
    env = {**os.environ, "BENCH_DB_READY": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", f"bench.{name}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its gunicorn and load processes share its process group
    )
    result: dict | None = None
    deadline = time.monotonic() + limit
    timed_out = False
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    last = ""

    def handle(line: str) -> None:
        nonlocal result, last
        if line.strip() and not line.startswith(RESULT_MARK):
            last = line.strip()
        if line.startswith(RESULT_MARK):
            try:
                result = json.loads(line[len(RESULT_MARK) :])
            except ValueError:
                print(f"  (unreadable result line: {line.strip()[:200]})")
            return
        print(f"  {line}", flush=True)

    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                handle(line.decode(errors="replace"))
    finally:
        stop_group(proc)
    # Whatever it printed while stopping (a timed-out script still reports its figures so far).
    while select.select([fd], [], [], 1.0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            handle(line.decode(errors="replace"))
    if pending:
        handle(pending.decode(errors="replace"))
    proc.stdout.close()
    if timed_out:
        return result, f"timed out after {limit} s"
    if proc.returncode not in (0, None):
        return result, f"exited with status {proc.returncode}: {last[:160]}"
    if result is None:
        return None, "printed no result"
    return result, ""


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a benchmark and everything it started (its own process group), politely first."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of that group only, if any
    if proc.poll() is None:
        proc.wait(timeout=5)


def verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "MISSED")


def summary(results: list[tuple[str, str, dict | None, str]]) -> None:
    rows = [("benchmark", "figure", "value", "target", "result")]
    for name, _, result, error in results:
        for figure in (result or {}).get("figures", []):
            rows.append(
                (
                    name,
                    figure["name"],
                    figure["value"],
                    figure["target"],
                    verdict(figure["met"]),
                )
            )
        if error:
            rows.append((name, "(benchmark failed)", error, "", "ERROR"))
    widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in enumerate((12, 60, 90, 20, 6))]
    print("\n" + "=" * 30 + " summary " + "=" * 30)
    for number, row in enumerate(rows):
        cells = [
            cell if len(cell) <= w else cell[: w - 1] + "…"
            for cell, w in zip(row, widths, strict=True)
        ]
        print("  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in widths))
    missed = sum(1 for r in rows[1:] if r[4] == "MISSED")
    failed = sum(1 for r in rows[1:] if r[4] == "ERROR")
    met = sum(1 for r in rows[1:] if r[4] == "met")
    print(f"\ntargets met: {met}, missed: {missed}; benchmarks failed: {failed}")


def main(argv: list[str]) -> int:
    chosen = [b for b in BENCHMARKS if not argv or b[0] in argv]
    unknown = set(argv) - {b[0] for b in BENCHMARKS}
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        return 2
    on_sigterm_exit()  # a SIGTERM still stops the running benchmark and drops the database
    print("Portal benchmarks")
    for line in machine():
        print(f"  {line}")
    results: list[tuple[str, str, dict | None, str]] = []
    try:
        print("\n== preparing the benchmark database (drop, create, migrate)", flush=True)
        try:
            reset_database()
        except Exception as exc:
            print(f"  could not prepare the database: {exc}")
            results.append(("database", "", None, f"{type(exc).__name__}: {exc}"))
        for name, title, limit in chosen:
            print(f"\n== {title}  (bench/{name}.py)", flush=True)
            began = time.monotonic()
            try:
                result, error = run_one(name, limit)
            except Exception as exc:
                result, error = None, f"{type(exc).__name__}: {exc}"
            if error:
                print(f"  !! {name} failed: {error}", flush=True)
            print(f"  ({time.monotonic() - began:.0f} s)", flush=True)
            results.append((name, title, result, error))
    finally:
        if os.environ.get("BENCH_KEEP_DB") != "1":
            try:
                drop_database()
            except Exception as exc:
                print(f"  (could not drop the benchmark database: {exc})")
    summary(results)
    print(f"load avg at the end (includes the benchmarks' own work): {load()}")
    return 1 if any(error for *_, error in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
