"""Lints the OpenAPI document with `redocly lint` (recommended rules) and `spectral lint`
(`spectral:oas`), both from .ci/node_modules, and fails on any finding but the one the
contract accepts: `/users/by-username/{username}` is ambiguous with the
`/users/{user_id}/...` paths (redocly's `no-ambiguous-paths`), which the route table
implies (literal segments are matched first).

Usage: lint_openapi.py OPENAPI_JSON
"""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "node_modules", ".bin")
ACCEPTED = re.compile(
    r"ambiguous paths: `/api/v1/users/by-username/\{username\}` and `/api/v1/users/\{user_id\}/[a-z_]+`"
)


def redocly(document):
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true", NO_COLOR="1")
    run = subprocess.run(
        [os.path.join(BIN, "redocly"), "lint", "--extends", "recommended", "--format", "json", document],
        capture_output=True, text=True, env=env, check=False,
    )
    start = run.stdout.find("{")
    if start < 0:
        raise SystemExit(f"redocly gave no report:\n{run.stdout}\n{run.stderr}")
    report = json.JSONDecoder().raw_decode(run.stdout[start:])[0]
    findings = []
    for problem in report.get("problems", []):
        pointer = ",".join(loc.get("pointer", "") for loc in problem.get("location", []))
        findings.append((problem["ruleId"], problem["severity"], problem["message"], pointer))
    return findings


def spectral(document):
    run = subprocess.run(
        [os.path.join(BIN, "spectral"), "lint", "--ruleset", os.path.join(HERE, ".spectral.yaml"),
         "--format", "json", "--fail-severity", "hint", "--quiet", document],
        capture_output=True, text=True, check=False,
    )
    try:
        results = json.loads(run.stdout or "[]")
    except json.JSONDecodeError as error:
        raise SystemExit(f"spectral gave no report ({error}):\n{run.stdout}\n{run.stderr}") from error
    return [(r["code"], r["severity"], r["message"], ".".join(map(str, r.get("path", [])))) for r in results]


def main(document):
    failed = False
    for tool, findings in (("redocly", redocly(document)), ("spectral", spectral(document))):
        accepted = [f for f in findings if tool == "redocly" and f[0] == "no-ambiguous-paths" and ACCEPTED.search(f[2])]
        rest = [f for f in findings if f not in accepted]
        print(f"{tool}: {len(findings)} findings, {len(accepted)} of them the accepted path ambiguity")
        for rule, severity, message, where in rest:
            failed = True
            print(f"  {tool} {severity} {rule} at {where}: {message}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
