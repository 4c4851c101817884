"""Schemathesis against the app's own OpenAPI schema (/api/schema/): every operation, as each role,
with a fixed example budget. No answer may be a 5xx, and every answer must match the schema.

The app runs as a real ``manage.py serve`` (embedded mode: SQLite and the in-memory broker, in a
directory of the test's own) loaded with ``seed_demo``. Roles: anonymous, a donor (registered
through ``POST /api/blood-bank/donor/register``), medical staff (doctor@stmarys.example), hospital
administrator (admin@stmarys.example) and platform administrator (platform@healthsync.example).

``fuzz()`` is shared with ``bench/fuzz_api.py``, which runs the same with a large budget.
``HEALTHSYNC_FUZZ_EXAMPLES`` sets the budget here (default 5 per operation and role).
"""

import json
import os
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest

from .servers import free_port, manage, process_env, start_server

pytestmark = pytest.mark.slow

DEMO_PASSWORD = "healthsync-demo"
ROLE_LOGINS = {
    "staff": "doctor@stmarys.example",
    "hospital_admin": "admin@stmarys.example",
    "platform_admin": "platform@healthsync.example",
}
ROLES = ("anonymous", "donor", "staff", "hospital_admin", "platform_admin")

# Operations not fuzzed, and why. Everything else in the schema is.
EXCLUDED = {
    # Loads a TensorFlow model in the server's worker thread for every valid example: minutes of CPU
    # and gigabytes per call, nothing an authorisation or schema check learns from. Its input
    # validation (400 for unknown data sets/models) is covered by imaging/tests.
    ("POST", "/api/load-model"),
}

# The server runs with limits that do not get in the fuzzer's way (rate limits answer 429, which is
# correct but hides the operation behind it; tokens must outlive a long bench run).
SERVER_ENV = {
    "HEALTHSYNC_LOGIN_RATE": "1000000/min",
    "HEALTHSYNC_REGISTER_RATE": "1000000/hour",
    "HEALTHSYNC_PREDICT_RATE": "1000000/min",
    "HEALTHSYNC_BLOOD_REQUEST_RATE": "1000000/min",
    "HEALTHSYNC_JWT_ACCESS_MINUTES": "600",
    "HEALTHSYNC_REAUTH_MINUTES": "600",
    "HEALTHSYNC_LOG_LEVEL": "WARNING",
}


@dataclass
class Failure:
    check: str
    role: str
    operation: str
    status: int | None
    message: str
    request: str
    response: str


@dataclass
class Report:
    operations: int = 0
    examples: Counter = field(default_factory=Counter)  # per role
    failures: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # schema/generation problems (not app failures)

    def by_check(self) -> Counter:
        return Counter(failure.check for failure in self.failures)

    def unique(self) -> dict:
        """One failure per (check, operation, status): the first seen."""
        seen = {}
        for failure in self.failures:
            seen.setdefault((failure.check, failure.operation, failure.status), failure)
        return seen


def _post_json(url, payload):
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def role_headers(base_url) -> dict[str, dict]:
    """Authorization headers per role (JWT access tokens from the real login)."""
    headers = {"anonymous": {}}
    donor_email = f"fuzz-donor-{int(time.time() * 1000)}@donors.example"
    _post_json(
        f"{base_url}/api/blood-bank/donor/register",
        {
            "name": "Fuzz Donor",
            "email": donor_email,
            "password": DEMO_PASSWORD,
            "blood_type": "O+",
            "date_of_birth": "1990-01-01",
            "address": "1 Fuzz Street",
            "contact_number": "+44 7700 900999",
        },
    )
    logins = {"donor": donor_email, **ROLE_LOGINS}
    for role, email in logins.items():
        token = _post_json(f"{base_url}/api/auth/login", {"email": email, "password": DEMO_PASSWORD})["access"]
        headers[role] = {"Authorization": f"Bearer {token}"}
    return headers


def _describe_request(case, response) -> str:
    request = getattr(response, "request", None)
    body = getattr(request, "body", None) if request is not None else None
    if isinstance(body, bytes):
        body = body[:400].decode(errors="replace")
    url = getattr(request, "url", "") if request is not None else ""
    return f"{case.method.upper()} {url or case.formatted_path} body={body!r}"[:800]


def _make_runner(operation, role, label, headers, max_examples, seed, base_url, session, checks, report):
    """A Hypothesis test for one operation and role that records failures instead of raising them
    (no shrinking: every example counts toward the budget)."""
    import requests
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    @hypothesis_seed(seed)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        report.examples[role] += 1
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
        except requests.RequestException as exc:
            report.failures.append(
                Failure("request_failed", role, label, None, str(exc)[:500], _describe_request(case, None), "")
            )
            return
        for name, check in checks.items():
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except (AssertionError, BaseExceptionGroup) as exc:  # failed checks: a FailureGroup of Failures
                failures = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
                for failure in failures:
                    report.failures.append(
                        Failure(
                            name,
                            role,
                            label,
                            response.status_code,
                            str(getattr(failure, "title", "") or "") + ": " + str(failure)[:1500],
                            _describe_request(case, response),
                            response.text[:800] if hasattr(response, "text") else "",
                        )
                    )

    return run


def fuzz(base_url, *, max_examples, roles=ROLES, operations_filter=None, seed=0, progress=None) -> Report:
    """Run every operation of ``base_url``'s schema as each role with ``max_examples`` examples."""
    import requests
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    checks = {"not_a_server_error": not_a_server_error, "response_schema_conformance": response_schema_conformance}

    @schemathesis.serializer("multipart/related")
    def _multipart(ctx, value) -> bytes:  # STOW-RS (/dicomweb/): the generated bytes as the body, as clients send
        return value if isinstance(value, bytes) else str(value).encode()

    headers_by_role = role_headers(base_url)
    # Logged in: with HEALTHSYNC_PUBLIC_API_DOCS off (production) the schema is not public.
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/", headers=headers_by_role["platform_admin"])
    session = requests.Session()
    report = Report()

    operations = []
    for result in schema.get_all_operations():
        try:
            operation = result.ok()
        except Exception as exc:  # an operation schemathesis cannot read: a schema problem, reported
            report.errors.append(f"unreadable operation: {exc}")
            continue
        key = (operation.method.upper(), operation.path)
        if key in EXCLUDED or (operations_filter and not operations_filter(key)):
            continue
        operations.append(operation)
    report.operations = len(operations)

    for role in roles:
        headers = headers_by_role[role]
        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            if progress:
                progress(role, label)

            run = _make_runner(operation, role, label, headers, max_examples, seed, base_url, session, checks, report)
            try:
                run()
            except Exception as exc:  # generation impossible for this operation: reported, not fatal
                report.errors.append(f"{role} {label}: {type(exc).__name__}: {str(exc)[:300]}")
    return report


def _reason(message: str) -> str:
    """The telling lines of a check's message (what was wrong, and where in the schema)."""
    keep = [
        line.strip()
        for line in message.splitlines()
        if " is not " in line
        or "is a required" in line
        or line.strip().startswith(("Schema at", "Received a response with 5xx", "Server error"))
    ]
    return " | ".join(keep) or message.strip().splitlines()[0] if message.strip() else ""


def summary_table(report: Report) -> str:
    lines = [
        f"operations fuzzed: {report.operations}",
        "examples per role: " + ", ".join(f"{role} {count}" for role, count in report.examples.items()),
    ]
    lines.append(f"examples in all: {sum(report.examples.values())}")
    lines.append(
        "failures by check: " + (", ".join(f"{name} {count}" for name, count in report.by_check().items()) or "none")
    )
    per_operation = defaultdict(Counter)
    for failure in report.failures:
        per_operation[failure.operation][failure.check] += 1
    if per_operation:
        lines.append("")
        lines.append(f"{'operation':60} {'check':30} failures")
        for operation, counts in sorted(per_operation.items()):
            for check, count in counts.items():
                lines.append(f"{operation:60} {check:30} {count}")
    for failure in report.unique().values():
        lines.append("")
        lines.append(f"[{failure.check}] {failure.operation} as {failure.role}: status {failure.status}")
        lines.append(f"  request:  {failure.request}")
        lines.append(f"  response: {failure.response[:400]}")
        lines.append(f"  reason:   {_reason(failure.message)[:600]}")
    if report.errors:
        lines.append("")
        lines.append("not fuzzed (generation errors):")
        lines.extend(f"  {error}" for error in report.errors)
    return "\n".join(lines)


def start_fuzz_server(var_dir, log_path):
    """A seeded ``manage.py serve`` of its own (embedded mode) for fuzzing; returns (process, base URL)."""
    env = process_env(HEALTHSYNC_VAR_DIR=str(var_dir), CELERY_BROKER_URL="memory://", **SERVER_ENV)
    manage("migrate", "--noinput", env=env, timeout=300)
    manage("seed_demo", env=env, timeout=300)
    port = free_port()
    return start_server(env=env, port=port, log_path=log_path), f"http://127.0.0.1:{port}"


def test_every_operation_as_every_role_gives_no_5xx_and_matches_the_schema(tmp_path):
    pytest.importorskip("schemathesis")
    server, base_url = start_fuzz_server(tmp_path / "var", tmp_path / "serve.log")
    try:
        report = fuzz(base_url, max_examples=int(os.environ.get("HEALTHSYNC_FUZZ_EXAMPLES", "5")))
    finally:
        server.stop()
    text = summary_table(report)
    print(text)
    assert report.operations > 50, text
    assert not report.errors, text
    assert not report.failures, f"{len(report.failures)} failures:\n{text}\n\nserver log tail:\n{server.log()[-4000:]}"
