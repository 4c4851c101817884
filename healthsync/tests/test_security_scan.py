"""bandit finds no medium- or high-severity issue in HealthSync's code."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["healthsync", "bloodbank", "donors", "notifications", "reports", "imaging", "ml_models"]


def test_bandit_reports_no_medium_or_high_severity_issue():
    present = [name for name in PACKAGES if (ROOT / name).is_dir()]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bandit",
            "-q",
            "-r",
            *present,
            "-x",
            "*/tests/*,*/migrations/*",
            "--severity-level",
            "medium",
            "-f",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    findings = [
        f"{issue['filename']}:{issue['line_number']} {issue['test_id']} {issue['issue_text']}"
        for issue in report["results"]
    ]
    assert findings == [], "\n".join(findings)
