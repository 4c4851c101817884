"""Load test of the production-mode stack: 200 simulated users against the API, then the blood bank's invariants.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
    CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// .venv/bin/python bench/bench_load.py \\
        [--users 200] [--spawn-rate 5] [--duration 90] [--server gunicorn|daphne] [--workers 2] [--find-max]

It creates (and drops afterwards) its own database, ``healthsync_bench_load``, on that PostgreSQL
server, a Celery queue of its own on that RabbitMQ (deleted afterwards), and on that Redis a
database number of its own (``--redis-db``, default 11: cache and rate limits) and a channel prefix
of its own. It runs ``migrate`` and ``seed_demo``, then seeds a network through the project's
services: 8 verified hospitals with 4 medical staff each, about 500 units per hospital of every
group and component, and 24 donors who each gave blood (walk-in, screening, collection, markers,
typing, release) or booked a slot. Accounts with the same password share one Argon2 hash while
seeding (a hash costs up to a CPU-second on a busy machine); every login in the run verifies it in
full. ``collectstatic`` is left out: the API renders no template.

The stack runs with ``DJANGO_DEBUG=0`` on free ports of 127.0.0.1: the server (gunicorn with
``--workers`` uvicorn workers, or daphne as ``manage.py serve`` runs it) and one Celery worker
(``--pool solo``). The users are ``bench/locustfile.py``, run by locust headless in a process of its
own: hospital staff (inventory, units, requests, request creation and fulfilment, crossmatch, issue,
cancel, stock received, donors, inbox, predictions) and donors (history, eligibility, profile, slots), 1-5 s
think time. Login rate limits and the per-user request and prediction rates are raised for the run
(one client address plays every user); the JWT access lifetime is raised so no token expires.

The users log in once each while they start (Argon2: slow by design, reported on their own rows);
the measured window starts ``--settle`` seconds after the last login and lasts ``--duration``
seconds. Printed per endpoint over it: requests, req/s, refused (a business rule said no, e.g. 409
no compatible stock: not an error), errors, p50, p95, p99 ms; then the non-imaging p95 against the
seed's 1,250 ms and the 300 ms target; how the machine's CPU time went (this stack against
everything else running); and the invariants, checked in the database after the run, PASS or FAIL:

* no unit is in two live (reserved or issued) allocations;
* every live allocation's unit is in the allocation's state, and the unit table's reserved and
  issued counts equal the live allocations';
* every request's status agrees with its live allocations (fulfilled: exactly the units asked for);
  every issued allocation's unit was issued for that request in its history; every issued red-cell
  unit, unless released in an emergency, had a compatible crossmatch;
* every unit's last history event ends in the unit's status;
* the inventory endpoint's counts equal the unit table's available units, per hospital and group;
* the writes the clients saw succeed are in the database, once: requests created, units received,
  allocations issued.

``--find-max`` instead paces the same users at rising total action rates (``--steps``, each for
``--step-s`` seconds; an action is one to five requests) and prints, per step, the achieved request
rate, p50/p95/p99 and errors: the highest request rate whose non-imaging p95 stays under 300 ms with
no error is the sustainable rate.

The load generator shares the machine's cores with the stack, and so does anything else running:
read the CPU line before the latencies.
"""

import argparse
import base64
import collections
import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchdb import own_database  # noqa: E402

from healthsync.tests.servers import (  # noqa: E402
    free_port,
    http_json,
    process_env,
    production_settings,
    start_production_server,
    start_worker,
)
from imaging.tests.images import typical_pixels  # noqa: E402

BENCH_DB = "healthsync_bench_load"
SEED_P95_MS = 1250.0
TARGET_P95_MS = 300.0
PASSWORD = "load-bench-password-2026"
HOSPITALS = 8
STAFF_PER_HOSPITAL = 4
DONORS = 24
# Red-cell units per group at each hospital, roughly by population frequency.
RED_CELL_STOCK = {"O+": 90, "A+": 80, "B+": 30, "AB+": 15, "O-": 40, "A-": 25, "B-": 15, "AB-": 10}
OTHER_STOCK = {"whole_blood": 5, "plasma": 10, "platelets": 6, "cryoprecipitate": 4}  # per group
DONOR_GROUPS = ["O+", "A+", "B+", "O-", "A-", "AB+", "B-", "AB-"]
LOGIN_PATHS = ("POST /api/blood-bank/hospital/login", "POST /api/blood-bank/donor/login")
IMAGING = "POST /api/predict (imaging)"
LOGIN_ALLOWANCE_S = 300  # the most the logins may lag behind the ramp-up before locust's own time limit stops it
QUIT_GRACE_S = 5  # locust quits this long after the measured window, so requests cut short at the quit fall outside it


# --- set-up ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def one_hash_per_password():
    """While seeding, accounts with the same password share one Argon2 hash (salt included): each hash
    costs about a CPU-second on this machine. Every login during the run still verifies it in full."""
    from django.contrib.auth import base_user

    original, hashes = base_user.make_password, {}

    def make_password(password, *args, **kwargs):
        if password not in hashes:
            hashes[password] = original(password, *args, **kwargs)
        return hashes[password]

    base_user.make_password = make_password
    try:
        yield
    finally:
        base_user.make_password = original


def seed_network() -> dict:
    """Hospitals, staff, stock and donors through the project's services; returns the accounts for locust."""
    from django.db import transaction
    from django.utils import timezone

    from bloodbank import services as bloodbank_services
    from donors import parameters as donor_parameters
    from donors import rules as donor_rules
    from donors import services as donor_services
    from donors.models import DonationSlot
    from healthsync import services as core_services
    from healthsync.demo import seed_regions
    from healthsync.models import Hospital, Role

    seed_regions()  # the demo's North and South
    hospitals = list(Hospital.objects.filter(is_verified=True).order_by("fin"))
    for number in range(len(hospitals) + 1, HOSPITALS + 1):
        hospitals.append(
            core_services.hospital_create(
                name=f"Bench Hospital {number}",
                address=f"{number} Load Street",
                contact_number=f"+44 20 7946 10{number:02d}",
                email=f"bloodbank@bench{number}.example",
                region="North" if number % 2 else "South",
                is_verified=True,
            )
        )
    staff = []
    for hospital in hospitals:
        for number in range(STAFF_PER_HOSPITAL):
            email = f"staff{number}@{hospital.fin.lower()}.bench.example"
            user = core_services.user_register(
                email=email, password=PASSWORD, name=f"Bench Staff {hospital.fin}-{number}"
            )
            core_services.membership_grant(hospital=hospital, user=user, role=Role.MEDICAL_STAFF, by=None)
            staff.append({"email": email, "hospital": hospital.pk, "user": user})
    first_staff = {entry["hospital"]: entry["user"] for entry in reversed(staff)}
    collected_at = timezone.now()  # fresh stock: dated from its collection (units_receive needs it, or an expiry date)
    for hospital in hospitals:
        with transaction.atomic():
            for group, count in RED_CELL_STOCK.items():
                bloodbank_services.units_receive(
                    hospital=hospital,
                    blood_group=group,
                    component="red_cells",
                    count=count,
                    collected_at=collected_at,
                    by=first_staff[hospital.pk],
                )
                for component, per_group in OTHER_STOCK.items():
                    bloodbank_services.units_receive(
                        hospital=hospital,
                        blood_group=group,
                        component=component,
                        count=per_group,
                        collected_at=collected_at,
                        by=first_staff[hospital.pk],
                    )
    donors = []
    for number in range(DONORS):
        hospital = hospitals[number % len(hospitals)]
        group = DONOR_GROUPS[number % len(DONOR_GROUPS)]
        email = f"donor{number}@donors.bench.example"
        donor = donor_services.donor_register(
            name=f"Bench Donor {number}",
            email=email,
            password=PASSWORD,
            blood_group=group,
            date_of_birth=date(1970 + number % 30, 1 + number % 12, 1 + number % 28),
            sex=donor_rules.FEMALE if number % 2 else donor_rules.MALE,
            weight_kg=60 + number % 30,
            region=hospital.region,
            address=f"{number} Donor Road",
            contact_number=f"+44 7700 9{number:05d}",
        )
        donors.append(email)
        if number % 4 == 3:  # a new donor who booked a slot (slots exist at the demo hospitals)
            slot = DonationSlot.objects.filter(
                starts_at__gt=timezone.now(), donation_type=donor_rules.WHOLE_BLOOD
            ).order_by("starts_at")[number % 10]
            donor_services.appointment_book(donor=donor, slot=slot)
            continue
        by = first_staff[hospital.pk]
        donation = donor_services.donation_register_walk_in(donor=donor, hospital=hospital)
        donor_services.screening_record(
            donation=donation,
            haemoglobin_g_dl=14.2,
            systolic_mmhg=122,
            diastolic_mmhg=78,
            pulse_bpm=68,
            temperature_c=36.7,
            questionnaire_passed=True,
            weight_kg=60 + number % 30,
            by=by,
        )
        donation.refresh_from_db()
        donor_services.donation_collect(donation=donation, by=by)
        donation.refresh_from_db()
        for marker in donor_parameters.required_markers():
            donor_services.marker_result_record(donation=donation, marker=marker, result=donor_rules.NEGATIVE, by=by)
        donation.refresh_from_db()
        donor_services.typing_confirm(donation=donation, blood_group=group, by=by)
        donation.refresh_from_db()
        donor_services.donation_release(donation=donation, by=by)
    return {
        "password": PASSWORD,
        "staff": [{"email": s["email"], "hospital": s["hospital"]} for s in staff],
        "donors": donors,
        "png_b64": base64.b64encode(test_png()).decode(),
    }


def test_png() -> bytes:
    """A 28x28 grayscale PNG (the pneumoniamnist model's input size)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(typical_pixels()).save(buffer, format="PNG")  # passes the appearance checks
    return buffer.getvalue()


# --- measuring -----------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    if not samples:
        return (float("nan"),) * 3
    p50, p95, p99 = np.percentile(samples, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the live processes of process group ``pgid``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., utime (12), stime (13)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK"), sum(values[:8]) / os.sysconf("SC_CLK_TCK")


def run_locust(
    *,
    url: str,
    accounts_path: Path,
    out_dir: Path,
    users: int,
    spawn_rate: float,
    after_login_s: float,
    extra_env: dict,
    stack: dict,
) -> list[tuple]:
    """Run locust headless in its own process until ``after_login_s`` after the last login; its samples.

    Prints how the machine's CPU time went meanwhile: this stack's processes against everything else."""
    samples_path = out_dir / "samples.jsonl"
    run_s = (
        users / spawn_rate + LOGIN_ALLOWANCE_S + after_login_s
    )  # a cap: locust stops itself after_login_s after the last login
    env = {
        **os.environ,
        "HEALTHSYNC_LOAD_ACCOUNTS": str(accounts_path),
        "HEALTHSYNC_LOAD_SAMPLES": str(samples_path),
        "HEALTHSYNC_LOAD_USERS": str(users),
        "HEALTHSYNC_LOAD_RUN_AFTER_LOGIN_S": str(after_login_s + QUIT_GRACE_S),
        **extra_env,
    }
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{int(run_s)}s",
        "--host",
        url,
        "--csv",
        str(out_dir / "locust"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "10",
    ]
    before = {name: cpu_seconds(pgid) for name, pgid in stack.items()}
    busy_before, total_before = machine_busy_seconds()
    with open(out_dir / "locust.log", "w") as log:
        locust = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        stack = {**stack, "locust": locust.pid}
        used = {}
        while locust.poll() is None:  # sample while it runs: a process's time is gone once it exits
            used = {name: cpu_seconds(pgid) - before.get(name, 0.0) for name, pgid in stack.items()}
            time.sleep(1)
        busy, total = machine_busy_seconds()
    if not samples_path.exists():
        raise SystemExit(
            f"locust wrote no samples (exit {locust.returncode}):\n{(out_dir / 'locust.log').read_text()[-3000:]}"
        )
    cores = (total - total_before) or 1.0
    share = lambda seconds: f"{100 * seconds / cores * os.cpu_count():.0f}%"  # noqa: E731  (of one core)
    print(
        f"CPU during the locust run ({(total - total_before) / os.cpu_count():.0f} s, {os.cpu_count()} cores; "
        f"% of one core): machine busy {share(busy - busy_before)}; "
        + ", ".join(f"{name} {share(seconds)}" for name, seconds in used.items())
        + f"; everything else (PostgreSQL, other work on the machine) {share(busy - busy_before - sum(used.values()))}"
    )
    return [tuple(json.loads(line)) for line in samples_path.read_text().splitlines()]


def endpoint_table(samples: list[tuple], window: tuple[float, float]) -> tuple[list[tuple], dict]:
    """Rows per endpoint over ``window`` (logins over the whole run), and the non-imaging summary."""
    start, end = window
    seconds = end - start
    by_name = collections.defaultdict(list)
    for at, name, ms, status, outcome, _ in samples:
        if name in LOGIN_PATHS or start <= at < end:
            by_name[name].append((ms, status, outcome))
    rows = []
    for name in sorted(by_name, key=lambda n: (n in LOGIN_PATHS, n == IMAGING, n)):
        calls = by_name[name]
        span = (max(s[0] for s in samples) - min(s[0] for s in samples)) if name in LOGIN_PATHS else seconds
        refused = sum(1 for c in calls if c[2] == "refused")
        errors = collections.Counter(c[1] for c in calls if c[2] == "error")
        rows.append(
            (name, len(calls), len(calls) / span if span else 0.0, refused, errors, *percentiles([c[0] for c in calls]))
        )
    business = [
        (ms, outcome)
        for at, name, ms, status, outcome, _ in samples
        if start <= at < end and name not in LOGIN_PATHS and name != IMAGING
    ]
    summary = {
        "requests": len(business),
        "rate": len(business) / seconds if seconds else 0.0,
        "errors": sum(1 for _, o in business if o == "error"),
        "refused": sum(1 for _, o in business if o == "refused"),
        "p50_p95_p99": percentiles([ms for ms, _ in business]),
        "all_rate": sum(1 for s in samples if start <= s[0] < end) / seconds if seconds else 0.0,
    }
    return rows, summary


def print_table(rows: list[tuple]) -> None:
    header = (
        f"{'endpoint':<52} {'requests':>8} {'req/s':>7} {'refused':>7} {'errors':>6} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, count, rate, refused, errors, p50, p95, p99 in rows:
        label = name + (" *" if name in LOGIN_PATHS else "")
        print(
            f"{label:<52} {count:>8} {rate:>7.1f} {refused:>7} {sum(errors.values()):>6} {p50:>8.1f} {p95:>8.1f} "
            f"{p99:>8.1f}"
        )
    codes = {name: dict(errors) for name, *_, errors, _, _, _ in rows if errors}
    if codes:
        print(f"errors by status: {codes}")


# --- invariants ---------------------------------------------------------------------------------


def check_invariants(
    samples: list[tuple], *, url: str, accounts: dict, run_started: float
) -> list[tuple[str, bool, str]]:
    from datetime import datetime

    from django.db.models import Count, Exists, F, OuterRef, Subquery
    from django.utils import timezone

    from bloodbank.models import (
        Allocation,
        AllocationStatus,
        BloodRequest,
        BloodRequestStatus,
        BloodUnit,
        Transfer,
        UnitEvent,
        UnitStatus,
    )
    from bloodbank.selectors import SEED_COMPONENTS

    checks = []
    live = Allocation.objects.filter(status__in=[AllocationStatus.RESERVED, AllocationStatus.ISSUED])
    doubled = list(live.values("unit_id").annotate(n=Count("id")).filter(n__gt=1).values_list("unit_id", flat=True)[:5])
    checks.append(
        (
            "no unit in two live allocations",
            not doubled,
            f"units {doubled}" if doubled else f"{live.count()} live allocations, each on its own unit",
        )
    )

    wrong_reserved = live.filter(status=AllocationStatus.RESERVED).exclude(unit__status=UnitStatus.RESERVED).count()
    wrong_issued = live.filter(status=AllocationStatus.ISSUED).exclude(unit__status=UnitStatus.ISSUED).count()
    wrong_issued += (
        Allocation.objects.filter(status=AllocationStatus.TRANSFUSED)
        .exclude(unit__status=UnitStatus.TRANSFUSED)
        .count()
    )
    in_transfers = Transfer.objects.filter(status="approved").aggregate(n=Count("units"))["n"] or 0
    reserved_units = BloodUnit.objects.filter(status=UnitStatus.RESERVED).count()
    issued_units = BloodUnit.objects.filter(status=UnitStatus.ISSUED).count()
    reserved_allocations = live.filter(status=AllocationStatus.RESERVED).count()
    issued_allocations = live.filter(status=AllocationStatus.ISSUED).count()
    ok = (
        not wrong_reserved
        and not wrong_issued
        and reserved_units == reserved_allocations + in_transfers
        and issued_units == issued_allocations
    )
    checks.append(
        (
            "allocation and unit states agree",
            ok,
            f"units reserved {reserved_units} = reserved allocations {reserved_allocations} + transfer units "
            f"{in_transfers}; "
            f"units issued {issued_units} = issued allocations {issued_allocations}; mismatched "
            f"{wrong_reserved + wrong_issued}",
        )
    )

    counted = [
        AllocationStatus.RESERVED,
        AllocationStatus.ISSUED,
        AllocationStatus.TRANSFUSED,
    ]  # what counts towards a request
    live_counts = (
        Allocation.objects.filter(request=OuterRef("pk"), status__in=counted)
        .values("request")
        .annotate(n=Count("id"))
        .values("n")
    )
    requests = BloodRequest.objects.annotate(live=Subquery(live_counts))
    bad = []
    by_status = collections.Counter()
    for request in requests.only("id", "status", "units_requested"):
        allocated = request.live or 0
        by_status[request.status] += 1
        expected = (
            BloodRequestStatus.CANCELLED
            if request.status == BloodRequestStatus.CANCELLED
            else BloodRequestStatus.FULFILLED
            if allocated >= request.units_requested
            else BloodRequestStatus.PARTIALLY_FULFILLED
            if allocated
            else BloodRequestStatus.PENDING
        )
        over = allocated > request.units_requested and request.status != BloodRequestStatus.CANCELLED
        if (
            request.status != expected
            or over
            or (
                request.status == BloodRequestStatus.CANCELLED
                and Allocation.objects.filter(request=request, status=AllocationStatus.RESERVED).exists()
            )
        ):
            bad.append(request.pk)
    checks.append(
        (
            "request statuses agree with their allocations (fulfilled: exactly the units asked for)",
            not bad,
            f"{dict(by_status)}; wrong: {bad[:5]}",
        )
    )

    issued_events = UnitEvent.objects.filter(
        unit=OuterRef("unit_id"), request=OuterRef("request_id"), to_status=UnitStatus.ISSUED
    )
    unrecorded = Allocation.objects.filter(status=AllocationStatus.ISSUED).exclude(Exists(issued_events)).count()
    fulfilled = BloodRequest.objects.filter(status=BloodRequestStatus.FULFILLED).count()
    checks.append(
        (
            "every issued allocation's unit was issued for its request",
            unrecorded == 0,
            f"{issued_allocations} issued allocations ({fulfilled} fulfilled requests); without an issue event: "
            f"{unrecorded}",
        )
    )
    uncrossmatched = (
        Allocation.objects.filter(
            status=AllocationStatus.ISSUED, emergency=False, unit__component__in=["red_cells", "whole_blood"]
        )
        .exclude(crossmatch_compatible=True)
        .count()
    )
    checks.append(
        (
            "every issued red-cell unit was crossmatched compatible (or released in an emergency)",
            uncrossmatched == 0,
            f"issued without a compatible crossmatch: {uncrossmatched}",
        )
    )

    last_event = UnitEvent.objects.filter(unit=OuterRef("pk")).order_by("-at", "-id").values("to_status")[:1]
    disagree = BloodUnit.objects.annotate(last=Subquery(last_event)).exclude(last=F("status")).count()
    checks.append(
        (
            "every unit's history ends in its status",
            disagree == 0,
            f"{BloodUnit.objects.count()} units; disagreeing: {disagree}",
        )
    )

    mismatched = []
    seen = 0
    for entry in {s["hospital"]: s for s in accounts["staff"]}.values():
        for _attempt in range(5):  # the server may still be working off the run's queue
            status, tokens = http_json(
                "POST",
                f"{url}/api/blood-bank/hospital/login",
                {"email": entry["email"], "password": accounts["password"]},
            )
            if status == 200:
                status, inventory = http_json("GET", f"{url}/api/blood-bank/hospital/inventory", token=tokens["access"])
            if status == 200:
                break
            time.sleep(2)
        else:
            mismatched.append((entry["hospital"], "inventory endpoint answered", status))
            continue
        now = timezone.now()
        table = dict(
            BloodUnit.objects.available(now)
            .filter(hospital_id=entry["hospital"], component__in=SEED_COMPONENTS)
            .values_list("blood_group")
            .annotate(n=Count("id"))
        )
        for row in inventory["inventory"]:
            seen += 1
            if row["units"] != table.get(row["blood_type"], 0):
                mismatched.append((entry["hospital"], row["blood_type"], row["units"], table.get(row["blood_type"], 0)))
    checks.append(
        (
            "inventory endpoint equals the unit table",
            not mismatched,
            f"{seen} hospital x group counts compared; mismatched: {mismatched[:5]}",
        )
    )

    since = datetime.fromtimestamp(run_started, tz=UTC)
    ok_calls = collections.Counter(name for _, name, _, _, outcome, _ in samples if outcome == "ok")
    received = sum(
        written or 0
        for _, name, _, _, outcome, written in samples
        if outcome == "ok" and name.endswith("inventory/add")
    )
    created_db = BloodRequest.objects.filter(created_at__gte=since).count()
    received_db = UnitEvent.objects.filter(at__gte=since, from_status="", reason="Received into stock").count()
    issued_db = Allocation.objects.filter(issued_at__gte=since, emergency=False).count()
    created_api = ok_calls["POST /api/blood-bank/hospital/request"]
    issued_api = ok_calls["POST /api/blood-bank/allocations/[id]/issue"]
    checks.append(
        (
            "acknowledged writes are in the database, once",
            (created_db, received_db, issued_db) == (created_api, received, issued_api),
            f"requests created {created_api} (API) / {created_db} (DB); units received {received} / {received_db}; "
            f"allocations issued {issued_api} / {issued_db}",
        )
    )
    return checks


# --- modes ---------------------------------------------------------------------------------------


def all_logged_in(samples: list[tuple], users: int) -> float:
    """When the last user's login succeeded (else the last login seen): the measured time starts after it."""
    logins = sorted(at for at, name, _, _, outcome, _ in samples if name in LOGIN_PATHS and outcome == "ok")
    return logins[users - 1] if len(logins) >= users else (logins[-1] if logins else min(s[0] for s in samples))


def measure_users(args, url: str, accounts: dict, accounts_path: Path, out_dir: Path, stack: dict) -> int:
    """The fixed-user run: the per-endpoint table, the summary, the invariants; returns the number of
    failed invariants."""
    started = time.time()
    samples = run_locust(
        url=url,
        accounts_path=accounts_path,
        out_dir=out_dir,
        users=args.users,
        spawn_rate=args.spawn_rate,
        after_login_s=args.settle + args.duration,
        stack=stack,
        extra_env={"HEALTHSYNC_LOAD_THINK": f"{args.think_min},{args.think_max}"},
    )
    logged_in = all_logged_in(samples, args.users)
    window = (logged_in + args.settle, min(logged_in + args.settle + args.duration, max(s[0] for s in samples)))
    rows, summary = endpoint_table(samples, window)
    print()
    print(
        f"{args.users} users ({args.think_min:g}-{args.think_max:g} s think time), started at {args.spawn_rate:g}/s, "
        "all logged in after "
        f"{logged_in - min(s[0] for s in samples):.0f} s; measured over the {window[1] - window[0]:.0f} s after that "
        f"(+{args.settle:g} s settle); "
        f"server: {server_label(args)} + 1 Celery worker (solo)"
    )
    print()
    print_table(rows)
    print("* logins: the whole ramp-up (Argon2 password hashing, deliberately slow); not in the summary below")
    p50, p95, p99 = summary["p50_p95_p99"]
    print()
    print(
        f"non-imaging, no logins: {summary['requests']} requests, {summary['rate']:.1f} req/s (with predictions: "
        f"{summary['all_rate']:.1f} req/s), "
        f"{summary['refused']} refused by business rules, {summary['errors']} errors"
    )
    print(
        f"  p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms; seed p95 {SEED_P95_MS:,.0f} ms; target p95 < "
        f"{TARGET_P95_MS:.0f} ms with 0 errors: "
        f"{'meets' if p95 < TARGET_P95_MS and summary['errors'] == 0 else 'misses'}"
    )
    print()
    print("invariants (database after the run):")
    failed = 0
    for name, ok, detail in check_invariants(samples, url=url, accounts=accounts, run_started=started):
        failed += not ok
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return failed


def measure_steps(args, url: str, accounts: dict, accounts_path: Path, out_dir: Path, stack: dict) -> None:
    """--find-max: the users paced at rising action rates after all have logged in; one row per step."""
    steps = [float(x) for x in args.steps.split(",")]
    samples = run_locust(
        url=url,
        accounts_path=accounts_path,
        out_dir=out_dir,
        users=args.users,
        spawn_rate=args.spawn_rate,
        after_login_s=args.settle + args.step_s * len(steps),
        stack=stack,
        extra_env={
            "HEALTHSYNC_LOAD_STEPS": ",".join(str(x) for x in [steps[0], *steps]),  # step 0: until all are in
            "HEALTHSYNC_LOAD_STEP_S": str(args.step_s),
            "HEALTHSYNC_LOAD_FIRST_STEP_S": str(args.settle),
        },
    )
    first = all_logged_in(samples, args.users) + args.settle
    print()
    print(
        f"{args.users} users paced at rising total action rates after all had logged in, {args.step_s:g} s per step "
        f"(its first {args.step_skip:g} s not measured); server: {server_label(args)} + 1 Celery worker (solo)"
    )
    print()
    header = (
        f"{'target actions/s':>16} {'req/s (non-imaging)':>19} {'req/s (all)':>11} {'refused':>7} {'errors':>6} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  p95 < {TARGET_P95_MS:.0f} ms, no errors"
    )
    print(header)
    print("-" * len(header))
    best = None
    for index, target in enumerate(steps):
        start = first + index * args.step_s
        _, summary = endpoint_table(samples, (start + args.step_skip, start + args.step_s))
        p50, p95, p99 = summary["p50_p95_p99"]
        sustained = p95 < TARGET_P95_MS and summary["errors"] == 0
        if sustained and (best is None or summary["rate"] > best[0]):
            best = (summary["rate"], summary["all_rate"], target, p95)
        print(
            f"{target:>16.0f} {summary['rate']:>19.1f} {summary['all_rate']:>11.1f} {summary['refused']:>7} "
            f"{summary['errors']:>6} "
            f"{p50:>8.1f} {p95:>8.1f} {p99:>8.1f}  {'yes' if sustained else 'no'}"
        )
    print()
    if best:
        print(
            f"highest sustained: {best[0]:.1f} non-imaging req/s ({best[1]:.1f} req/s with predictions), p95 "
            f"{best[3]:.1f} ms, no errors"
        )
    else:
        print(f"no step sustained p95 < {TARGET_P95_MS:.0f} ms with no errors")


def server_label(args) -> str:
    return "daphne (1 process)" if args.server == "daphne" else f"gunicorn + {args.workers} uvicorn workers"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--spawn-rate", type=float, default=5.0, help="users started (and logging in) per second (default 5)"
    )
    parser.add_argument("--duration", type=float, default=90.0, help="measured seconds after the ramp-up (default 90)")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds after the ramp-up before measuring (default 5)"
    )
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=5.0)
    parser.add_argument("--server", choices=["daphne", "gunicorn"], default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers under gunicorn (default 2)")
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument(
        "--find-max", action="store_true", help="step the arrival rate instead; report the highest sustained"
    )
    parser.add_argument(
        "--steps", default="40,60,80,100,120,150", help="total actions per second per step (--find-max)"
    )
    parser.add_argument("--step-s", type=float, default=25.0, help="seconds per step (--find-max, default 25)")
    parser.add_argument(
        "--step-skip", type=float, default=5.0, help="seconds at the start of each step not measured (default 5)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, locust CSV, samples)")
    args = parser.parse_args()
    with own_database(BENCH_DB):
        failed = run(args)
    sys.exit(1 if failed else 0)


def run(args) -> int:
    queue = f"bench-load-{uuid.uuid4().hex[:8]}"
    var_dir = Path(tempfile.mkdtemp(prefix="healthsync-bench-load-"))
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + f"/{args.redis_db}"
    env = process_env(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=redis,
        CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        HEALTHSYNC_TASK_QUEUE=queue,
        HEALTHSYNC_CHANNEL_PREFIX=f"benchload{uuid.uuid4().hex[:8]}",
        HEALTHSYNC_VAR_DIR=str(var_dir),
        **production_settings(),
        HEALTHSYNC_LOG_LEVEL="WARNING",
        TF_CPP_MIN_LOG_LEVEL="2",
        HEALTHSYNC_LOGIN_RATE="1000000/min",
        HEALTHSYNC_BLOOD_REQUEST_RATE="1000000/min",
        HEALTHSYNC_PREDICT_RATE="1000000/min",
        HEALTHSYNC_JWT_ACCESS_MINUTES="240",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    processes = []
    try:
        phases = {}
        clock = time.monotonic()
        os.environ.update(
            {**env, "CELERY_BROKER_URL": "memory://"}
        )  # set-up's notification tasks are not part of the load
        import django
        from django.core.management import call_command

        django.setup()
        logging.getLogger("kombu").setLevel(logging.ERROR)  # the in-memory broker's "no hostname" warning
        # The API renders no template, so collectstatic (minutes of compression here) is left out.
        for name, step in [
            (
                "migrate",
                lambda: call_command("migrate", interactive=False, verbosity=0),
            ),  # registers the trained models
            ("seed_demo", lambda: call_command("seed_demo", verbosity=0)),
            ("seed network", lambda: phases.setdefault("accounts", seed_network())),
        ]:
            with contextlib.redirect_stdout(io.StringIO()), one_hash_per_password():
                step()
            phases[name], clock = time.monotonic() - clock, time.monotonic()
        accounts = phases.pop("accounts")
        accounts_path = var_dir / "accounts.json"
        accounts_path.write_text(json.dumps(accounts))
        from bloodbank.models import BloodUnit
        from healthsync.models import Hospital, User

        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; set-up "
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items())
            + f": {Hospital.objects.count()} hospitals, "
            f"{User.objects.filter(memberships__isnull=False).distinct().count()} staff, "
            f"{User.objects.filter(is_donor=True).count()} donors, {BloodUnit.objects.count()} units"
        )
        port = free_port()
        processes.append(
            start_production_server(
                server=args.server, workers=args.workers, env=env, port=port, log_path=var_dir / "server.log"
            )
        )
        processes.append(start_worker(env=env, log_path=var_dir / "worker.log"))
        url = f"http://127.0.0.1:{port}"
        stack = {
            "server": processes[0].popen.pid,
            "celery worker": processes[1].popen.pid,
        }  # each leads its process group
        out_dir = var_dir / "locust"
        out_dir.mkdir()
        failed = 0
        if args.find_max:
            measure_steps(args, url, accounts, accounts_path, out_dir, stack)
        else:
            failed = measure_users(args, url, accounts, accounts_path, out_dir, stack)
        print(f"load average after the run: {os.getloadavg()[0]:.2f}")
        return failed
    finally:
        for process in reversed(processes):
            process.stop()
        try:
            from kombu import Connection

            with Connection(env["CELERY_BROKER_URL"]) as connection:
                connection.default_channel.queue_delete(queue)
        except Exception as exc:  # the broker's queue is only tidied up
            print(f"(could not delete queue {queue}: {exc})", file=sys.stderr)
        if args.keep:
            print(f"run directory kept: {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
