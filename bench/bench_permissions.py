"""The per-request cost of the permission checks: rights derived from memberships (this tree) against
the baseline, roles copied into django-guardian's tables and read back from them (``BASELINE``).

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_permissions.py
(options: --runs N, --rounds N, --baseline REV).
The baseline's tree is taken from git (``git archive``) into a temporary folder and run with the
same interpreter (it needs django-guardian installed); each implementation runs in a process and a
database of its own (created and dropped on that server), seeded alike: 20 hospitals, a user with 1
membership and one with 20; they take turns (``--rounds``). Prints one table, the median and p95
of each workload, in ms:

- API request: what a staff API call asks within one request (``memoised``): staff anywhere?, a
  scoped list, the acting hospital, two object checks;
- console page: what one console page asks (15 "may see this model?" over 3 permissions, the
  user's hospitals for a filter);
- one check: a single ``can`` outside a request (a worker, the DICOM listener);
- role change: ``membership_grant`` changing a role (the socket push left out).
"""

import argparse
import json
import os
import statistics
import subprocess  # nosec B404: git and this script, with fixed arguments
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "8016a7591b13da1efee71b99aa5a22e74493783f"  # the last commit that copied roles into guardian
HOSPITALS = 20
WARMUP = 30
WORKLOADS = ("API request", "console page", "one check", "role change")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300, help="runs per row in each of the rounds")
    parser.add_argument("--rounds", type=int, default=2, help="each implementation runs this often, taking turns")
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--measure", metavar="TREE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.runs)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-permissions-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.baseline], check=True, capture_output=True
        ).stdout  # nosec B603 B607
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)  # nosec B603 B607
        trees = {"baseline": Path(folder), "memberships": ROOT}
        times = {name: {workload: {} for workload in WORKLOADS} for name in trees}
        for _ in range(args.rounds):  # taking turns, so that a change in the machine's load falls on both
            for name, tree in trees.items():
                for workload, rows in _run(tree, args.runs).items():
                    for count, samples in rows.items():
                        times[name][workload].setdefault(count, []).extend(samples)
    print(f"baseline: {args.baseline[:10]} (guardian copy, hand-written SQL); ", end="")
    print(f"{args.rounds} × {args.runs} runs per row, each after {WARMUP} warm-up\n")
    print(
        "| workload | hospitals | baseline median ms | baseline p95 ms | memberships median ms | memberships p95 ms |",
        end="",
    )
    print(" median |\n|---|---:|---:|---:|---:|---:|---:|")
    for workload in WORKLOADS:
        for count in ("1", str(HOSPITALS)):
            (old_median, old_p95), (new_median, new_p95) = (_summary(times[name][workload][count]) for name in trees)
            cells = [f"{value:.3f}" for value in (old_median, old_p95, new_median, new_p95)]
            print(f"| {workload} | {count} | {' | '.join(cells)} | ×{new_median / old_median:.2f} |")


def _summary(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=20)[18]


def _run(tree: Path, runs: int) -> dict:
    """One implementation, measured in a process of its own, in its tree and its own database."""
    done = subprocess.run(  # nosec B603: this script, with its own arguments
        [sys.executable, str(Path(__file__).resolve()), "--measure", str(tree), "--runs", str(runs)],
        cwd=tree,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(tree: Path, runs: int) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    from benchdb import own_database

    sys.path.insert(0, str(tree))
    settings = (
        "config.settings" if (tree / "config" / "settings.py").exists() else "healthsync.settings"
    )  # before the move
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    os.environ["HEALTHSYNC_LOG_LEVEL"] = "WARNING"
    with own_database(f"healthsync_bench_permissions_{os.getpid()}"):
        return _measure(runs)


def _measure(runs: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    from healthsync import services
    from healthsync.models import Hospital, Role, User
    from healthsync.permissions import (
        ACT,
        CHANGE,
        MANAGE_STAFF,
        VIEW,
        acting_hospital,
        can,
        can_anywhere,
        hospitals_for,
        memoised,
        scope_to_hospitals,
    )

    call_command("migrate", verbosity=0)
    services.rights_changed = lambda user_id: None  # the socket push is not a permission check
    hospitals = [services.hospital_create(name=f"Bench {n}", is_verified=True) for n in range(HOSPITALS)]
    users = {}
    for count in (1, HOSPITALS):
        user = users[str(count)] = User.objects.create_user(email=f"bench{count}@healthsync.example", password=None)
        for n, hospital in enumerate(hospitals[:count]):
            services.membership_grant(
                hospital=hospital, user=user, role=Role.HOSPITAL_ADMIN if n == 0 else Role.MEDICAL_STAFF, by=None
            )

    def api_request(user, hospital):
        with memoised():
            can_anywhere(user)
            list(scope_to_hospitals(Hospital.objects.all(), user, perm=VIEW, via="pk").values_list("pk", flat=True))
            acting_hospital(user, hospital.pk)
            can(user, ACT, hospital)
            can(user, MANAGE_STAFF, hospital)

    def console_page(user, hospital):
        with memoised():
            for perm in (ACT, VIEW, CHANGE) * 5:
                can_anywhere(user, perm)
            list(hospitals_for(user, VIEW))

    roles = [Role.MEDICAL_STAFF, Role.HOSPITAL_ADMIN]

    def role_change(user, hospital):
        roles.reverse()
        services.membership_grant(hospital=hospitals[0], user=user, role=roles[0], by=None)

    workloads = {
        "API request": api_request,
        "console page": console_page,
        "one check": lambda user, hospital: can(user, ACT, hospital),
        "role change": role_change,
    }
    results = {}
    for name, workload in workloads.items():
        results[name] = {}
        for count, user in users.items():
            hospital = hospitals[int(count) - 1]
            times = results[name][count] = []
            for run in range(WARMUP + runs):
                started = time.perf_counter()
                workload(user, hospital)
                if run >= WARMUP:
                    times.append((time.perf_counter() - started) * 1000)
    return results


if __name__ == "__main__":
    main()
