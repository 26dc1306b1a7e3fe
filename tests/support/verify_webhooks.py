"""Verifies webhook deliveries with the Standard Webhooks reference library.

Usage: python3 verify_webhooks.py <whsec_ secret>  < deliveries.json

The input is a JSON array of {"headers": {name: value}, "body": "..."}, as a test's
receiver captured them. Prints one line per delivery and exits 0 only when every one
verifies; exits 3 when the library is not installed (pip install standardwebhooks).
"""

import json
import sys

try:
    from standardwebhooks import Webhook
except ImportError:
    print("the standardwebhooks package is not installed", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    secret = sys.argv[1]
    deliveries = json.load(sys.stdin)
    if not deliveries:
        print("no deliveries to verify", file=sys.stderr)
        return 1
    webhook = Webhook(secret)
    failures = 0
    for delivery in deliveries:
        try:
            payload = webhook.verify(delivery["body"], delivery["headers"])
            print(f"verified {delivery['headers'].get('webhook-id')} {payload['type']}")
        except Exception as error:  # noqa: BLE001 - report every failure
            failures += 1
            print(f"NOT verified {delivery['headers'].get('webhook-id')}: {error!r}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
