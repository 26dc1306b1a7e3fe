"""Fails when an operation whose contract has a 2xx answer never got one during the run.

Usage: check_coverage.py OPENAPI_JSON STATUS_LOG
(the status log is written by schemathesis_hooks.py: operation id -> status -> count).
"""

import json
import sys

# Operations whose 2xx needs a secret only an e-mail carries (a verification or reset
# token) or an account state the fuzzing server does not have (pending verification):
# tests/api/account.rs reaches their 2xx end to end against a real SMTP sink.
NEEDS_MAIL = {"reset_password", "verify_email", "resend_verification_email"}


def main(document_path, log_path):
    with open(document_path, encoding="utf-8") as f:
        document = json.load(f)
    with open(log_path, encoding="utf-8") as f:
        seen = json.load(f)
    missing = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if not any(status.startswith("2") for status in operation["responses"]):
                continue
            if operation["operationId"] in NEEDS_MAIL:
                continue
            statuses = seen.get(operation["operationId"], {})
            if not any(status.startswith("2") for status in statuses):
                missing.append(f"{method.upper()} {path} ({operation['operationId']}): {statuses or 'never called'}")
    total = sum(sum(counts.values()) for counts in seen.values())
    print(f"{total} answers recorded over {len(seen)} operations")
    if missing:
        print("operations never answered with a 2xx:", file=sys.stderr)
        for line in missing:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("every operation with a 2xx in the contract was answered with one")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
