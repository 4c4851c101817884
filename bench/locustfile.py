"""Simulated HealthSync users for ``bench/bench_load.py`` (run by locust, headless, against 127.0.0.1).

Hospital staff (five in six users) log in once with a JWT and, each within their own hospital, read
the inventory, units and requests, create blood requests and fulfil them, issue the reserved units,
now and then cancel a request or receive new bags into stock, look up donors, read their inbox and
occasionally ask for an image prediction (counted apart, as imaging). Donors log in once and read
their history, eligibility, profile and the free slots.

Every HTTP call is classified: *ok*, *refused* (a business rule said no, e.g. 409 "no compatible
stock": counted apart, not an error) or *error* (anything else). Each call is also written, with
its time, to the JSON-lines file ``HEALTHSYNC_LOAD_SAMPLES`` when locust quits, so the bench
computes exact percentiles per endpoint and per load step.

Configuration, by environment (the bench sets it):
  HEALTHSYNC_LOAD_ACCOUNTS   JSON file: {"password", "staff": [{"email", "hospital"}], "donors": [email], "png_b64"}
  HEALTHSYNC_LOAD_SAMPLES    where to write the samples (JSON lines)
  HEALTHSYNC_LOAD_THINK      "min,max" seconds between a user's actions (default "1,5")
  HEALTHSYNC_LOAD_STEPS      "rate,rate,..." total actions per second per step (``--find-max``): think time
                             is then paced so the users together aim at that rate
  HEALTHSYNC_LOAD_STEP_S     seconds per step (default 30); the first step runs until every user has
                             logged in and HEALTHSYNC_LOAD_FIRST_STEP_S more
  HEALTHSYNC_LOAD_USERS      the number of users, to divide a step's rate among them
  HEALTHSYNC_LOAD_RUN_AFTER_LOGIN_S  stop this long after the last user has logged in (0: locust's -t only)
"""

import base64
import itertools
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import gevent
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser

ACCOUNTS = json.loads(open(os.environ["HEALTHSYNC_LOAD_ACCOUNTS"]).read())
PASSWORD = ACCOUNTS["password"]
PNG = base64.b64decode(ACCOUNTS["png_b64"])
THINK = tuple(float(x) for x in os.environ.get("HEALTHSYNC_LOAD_THINK", "1,5").split(","))
STEPS = [float(x) for x in os.environ.get("HEALTHSYNC_LOAD_STEPS", "").split(",") if x]
STEP_S = float(os.environ.get("HEALTHSYNC_LOAD_STEP_S", "30"))
FIRST_STEP_S = float(os.environ.get("HEALTHSYNC_LOAD_FIRST_STEP_S", STEP_S))
USERS = int(os.environ.get("HEALTHSYNC_LOAD_USERS", "200"))
RUN_AFTER_LOGIN_S = float(os.environ.get("HEALTHSYNC_LOAD_RUN_AFTER_LOGIN_S", "0"))

BB = "/api/blood-bank"
# Recipient groups roughly by population frequency (and so by how often blood is asked for).
RECIPIENT_GROUPS = (
    ["O+"] * 37 + ["A+"] * 34 + ["B+"] * 9 + ["AB+"] * 3 + ["O-"] * 7 + ["A-"] * 6 + ["B-"] * 2 + ["AB-"] * 2
)
# Refusals a business rule gives under this load, by endpoint: not errors.
REFUSALS = {
    "POST /api/blood-bank/hospital/request/fulfill/[id]": {(409, "no_compatible_stock")},
    "POST /api/blood-bank/allocations/[id]/issue": {(409, "unit_expired")},
}

SAMPLES: list[tuple] = []
_staff_accounts = itertools.count()
_donor_accounts = itertools.count()
_logged_in = itertools.count(1)
_all_logged_in = [None]  # when the last user's login succeeded: the measured time starts from here


@events.quitting.add_listener
def _write_samples(environment, **_):
    path = os.environ.get("HEALTHSYNC_LOAD_SAMPLES")
    if path:
        with open(path, "w") as out:
            for sample in SAMPLES:
                out.write(json.dumps(sample) + "\n")


def paced_wait(user) -> float:
    """Think time: uniform in HEALTHSYNC_LOAD_THINK, or, when stepping, paced to the step's rate."""
    now = time.time()
    if not STEPS:
        return random.uniform(*THINK)
    elapsed = now - (_all_logged_in[0] or now)
    step = 0 if _all_logged_in[0] is None or elapsed < FIRST_STEP_S else 1 + int((elapsed - FIRST_STEP_S) // STEP_S)
    rate = STEPS[min(step, len(STEPS) - 1)] / USERS  # this user's actions per second
    busy = now - getattr(user, "_waited_until", now)  # how long the action just finished took
    wait = max(0.0, random.uniform(0.5, 1.5) / rate - busy)
    user._waited_until = now + wait
    return wait


class HealthSyncUser(FastHttpUser):
    """A user who logs in once (``login_path``) and then calls the API with the JWT."""

    abstract = True
    login_path = ""

    def wait_time(self):
        return paced_wait(self)

    def call(
        self, method: str, path: str, name: str, *, json_body=None, data=None, headers=None, ok=(200,), count=None
    ):
        """One HTTP call, recorded as ok, refused or error; returns (status, parsed JSON or None).

        ``count(body)``, for a call that writes several rows, says how many it acknowledged (recorded
        with the sample)."""
        headers = {
            **({"Authorization": f"Bearer {self.token}"} if getattr(self, "token", None) else {}),
            **(headers or {}),
        }
        with self.client.request(
            method, path, name=name, json=json_body, data=data, headers=headers, catch_response=True
        ) as response:
            status = response.status_code or 0
            try:
                body = response.json() if response.content else None
            except ValueError:
                body = None
            code = ((body or {}).get("error") or {}).get("code") if isinstance(body, dict) else None
            if status in ok:
                outcome = "ok"
                response.success()
            elif (status, code) in REFUSALS.get(name, set()):
                outcome = "refused"
                response.success()
            else:
                outcome = "error"
                response.failure(f"{status} {code or ''} {str(body)[:200]}")
            written = count(body) if count and outcome == "ok" else None
            SAMPLES.append(
                (
                    round(time.time(), 3),
                    name,
                    round(response.request_meta["response_time"], 2),
                    status,
                    outcome,
                    written,
                )
            )
        return status, body

    def log_in(self, email: str) -> None:
        for attempt in range(5):
            status, body = self.call(
                "POST", self.login_path, f"POST {self.login_path}", json_body={"email": email, "password": PASSWORD}
            )
            if status == 200:
                self.token = body["access"]
                if next(_logged_in) == USERS:
                    _all_logged_in[0] = time.time()
                    if RUN_AFTER_LOGIN_S:
                        gevent.spawn_later(RUN_AFTER_LOGIN_S, self.environment.runner.quit)
                return
            time.sleep(1 + attempt)
        raise RuntimeError(f"could not log in as {email}")


class StaffUser(HealthSyncUser):
    """A transfusion laboratory or ward user at one hospital."""

    weight = 5
    login_path = f"{BB}/hospital/login"

    def on_start(self):
        account = ACCOUNTS["staff"][next(_staff_accounts) % len(ACCOUNTS["staff"])]
        self.hospital = account["hospital"]
        self.reserved: list[int] = []  # this user's requests with units reserved, waiting to be issued
        self.log_in(account["email"])

    @task(8)
    def inventory(self):
        self.call("GET", f"{BB}/hospital/inventory", f"GET {BB}/hospital/inventory")

    @task(3)
    def available_units(self):
        group = random.choice(RECIPIENT_GROUPS)
        self.call(
            "GET",
            f"{BB}/units/?status=available&blood_group={group.replace('+', '%2B')}&page_size=20",
            f"GET {BB}/units/?status=available",
        )

    @task(3)
    def open_requests(self):
        self.call("GET", f"{BB}/hospital/requests?page_size=20", f"GET {BB}/hospital/requests")

    @task(1)
    def network_inventory(self):
        self.call("GET", f"{BB}/inventory/network", f"GET {BB}/inventory/network")

    @task(4)
    def request_and_fulfil(self):
        urgency = random.choices([1, 2, 3, 4], weights=[30, 40, 25, 5])[0]
        status, body = self.call(
            "POST",
            f"{BB}/hospital/request",
            f"POST {BB}/hospital/request",
            ok=(201,),
            json_body={
                "blood_type": random.choice(RECIPIENT_GROUPS),
                "units": random.choice([1, 1, 2, 2, 2, 3, 4]),
                "urgency_level": urgency,
                "component": "red_cells",
                "patient_reference": f"MRN-{uuid.uuid4().hex[:8]}",
            },
        )
        if status != 201:
            return
        request_id = body["request_id"]
        status, body = self.call(
            "POST", f"{BB}/hospital/request/fulfill/{request_id}", f"POST {BB}/hospital/request/fulfill/[id]"
        )
        if status == 200 and body["allocated"]:
            self.reserved.append(request_id)

    @task(3)
    def issue_reserved(self):
        if not self.reserved:
            return self.inventory()
        request_id = self.reserved.pop(0)
        status, body = self.call("GET", f"{BB}/requests/{request_id}/", f"GET {BB}/requests/[id]/")
        if status != 200:
            return
        for allocation in body["allocations"]:
            if allocation["status"] == "reserved":
                # Red cells are issued only after a compatible crossmatch on a recent sample of the recipient.
                status, _ = self.call(
                    "POST",
                    f"{BB}/allocations/{allocation['id']}/crossmatch",
                    f"POST {BB}/allocations/[id]/crossmatch",
                    json_body={
                        "method": "electronic",
                        "sample_id": f"S-{request_id}",
                        "sample_drawn_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
                        "compatible": True,
                    },
                )
                if status == 200:
                    self.call("POST", f"{BB}/allocations/{allocation['id']}/issue", f"POST {BB}/allocations/[id]/issue")

    @task(1)
    def cancel_request(self):
        if not self.reserved:
            return self.open_requests()
        request_id = self.reserved.pop(random.randrange(len(self.reserved)))
        self.call("POST", f"{BB}/requests/{request_id}/cancel", f"POST {BB}/requests/[id]/cancel")

    @task(2)
    def receive_stock(self):
        self.call(
            "POST",
            f"{BB}/hospital/inventory/add",
            f"POST {BB}/hospital/inventory/add",
            ok=(201,),
            json_body={
                "blood_type": random.choice(RECIPIENT_GROUPS),
                "units": random.randint(1, 4),
                "component": "red_cells",
                # A unit is dated from its collection: bags collected up to a week ago.
                "collected_at": (datetime.now(UTC) - timedelta(days=random.randint(0, 7))).isoformat(),
            },
            count=lambda body: len(body["units"]),
        )

    @task(2)
    def donors(self):
        self.call("GET", f"{BB}/staff/donors/?page_size=20", f"GET {BB}/staff/donors/")

    @task(1)
    def inbox(self):
        self.call("GET", "/api/notifications?page_size=20", "GET /api/notifications")

    @task(1)
    def predict(self):
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\npneumoniamnist\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="xray.png"\r\n'
                f"Content-Type: image/png\r\n\r\n"
            ).encode()
            + PNG
            + f"\r\n--{boundary}--\r\n".encode()
        )
        self.call(
            "POST",
            "/api/predict",
            "POST /api/predict (imaging)",
            data=body,
            ok=(202,),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )


class DonorUser(HealthSyncUser):
    """A donor checking their record on the portal's API."""

    weight = 1
    login_path = f"{BB}/donor/login"

    def on_start(self):
        self.log_in(ACCOUNTS["donors"][next(_donor_accounts) % len(ACCOUNTS["donors"])])

    @task(5)
    def history(self):
        self.call("GET", f"{BB}/donor/history", f"GET {BB}/donor/history")

    @task(2)
    def eligibility(self):
        self.call("GET", f"{BB}/donor/eligibility", f"GET {BB}/donor/eligibility")

    @task(1)
    def profile(self):
        self.call("GET", f"{BB}/donor/profile", f"GET {BB}/donor/profile")

    @task(1)
    def slots(self):
        self.call("GET", f"{BB}/slots", f"GET {BB}/slots")
