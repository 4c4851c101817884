"""Schemathesis against HealthSync's own OpenAPI schema with a large example budget.

Starts a seeded ``manage.py serve`` of its own (embedded mode, in a temporary directory), fuzzes every
operation of /api/schema/ as each role (anonymous, donor, medical staff, hospital administrator,
platform administrator) and prints a summary: operations, examples, failures by check, and one
example of each distinct failure. The CI-sized run is healthsync/tests/test_schema_fuzz.py.

    .venv/bin/python bench/fuzz_api.py                 # 100 examples per operation and role
    .venv/bin/python bench/fuzz_api.py --examples 500 --roles staff,platform_admin --only /api/blood-bank/
    .venv/bin/python bench/fuzz_api.py --base-url http://127.0.0.1:8000   # against a server already running
                                                                           # (seed_demo data; rate limits apply)
Exit status: 0 with no failures, 1 otherwise.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main(argv=None) -> int:
    from healthsync.tests.test_schema_fuzz import ROLES, fuzz, start_fuzz_server, summary_table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100, help="examples per operation and role (default 100)")
    parser.add_argument("--roles", default=",".join(ROLES), help=f"comma-separated subset of {','.join(ROLES)}")
    parser.add_argument("--only", default="", help="fuzz only operations whose path starts with this")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0: reproducible)")
    parser.add_argument("--base-url", default="", help="fuzz a server already running instead of starting one")
    parser.add_argument("--quiet", action="store_true", help="no per-operation progress")
    args = parser.parse_args(argv)
    roles = tuple(role.strip() for role in args.roles.split(",") if role.strip())
    unknown = set(roles) - set(ROLES)
    if unknown:
        parser.error(f"unknown roles: {sorted(unknown)}")

    def progress(role, label):
        if not args.quiet:
            print(f"  {role:15} {label}", file=sys.stderr, flush=True)

    only = (lambda key: key[1].startswith(args.only)) if args.only else None
    started = time.monotonic()
    server = None
    with tempfile.TemporaryDirectory(prefix="healthsync-fuzz-") as scratch:
        base_url = args.base_url.rstrip("/")
        if not base_url:
            print("starting a seeded server ...", file=sys.stderr, flush=True)
            server, base_url = start_fuzz_server(Path(scratch) / "var", Path(scratch) / "serve.log")
        try:
            report = fuzz(
                base_url,
                max_examples=args.examples,
                roles=roles,
                operations_filter=only,
                seed=args.seed,
                progress=progress,
            )
        finally:
            if server is not None:
                server.stop()
                log = server.log()
                if "Traceback" in log:
                    print("\nserver log (tracebacks):\n" + log[-6000:], file=sys.stderr)
    print(
        f"HealthSync API fuzz: {args.examples} examples per operation and role, roles {', '.join(roles)}, "
        f"{time.monotonic() - started:.0f} s"
    )
    print(summary_table(report))
    return 1 if report.failures or report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
