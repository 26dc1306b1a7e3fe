"""Verifying a vidgen webhook in Python with the Standard Webhooks library.

    pip install standardwebhooks
    python3 verify_webhook.py        # reads {"headers": {...}, "body": "..."} on stdin

In a web framework, pass the raw request body (bytes, exactly as received) and the
request headers to `Webhook.verify`, and answer 2xx quickly; do the work afterwards.
"""

import json
import os
import sys

from standardwebhooks import Webhook, WebhookVerificationError


def handle(raw_body: bytes, headers: dict) -> dict:
    webhook = Webhook(os.environ["WEBHOOK_SECRET"])  # "whsec_..."
    # Checks the signature and that webhook-timestamp is within five minutes.
    event = webhook.verify(raw_body, headers)
    return event


if __name__ == "__main__":
    delivery = json.load(sys.stdin)
    try:
        event = handle(delivery["body"].encode(), delivery["headers"])
    except WebhookVerificationError as error:
        print(f"rejected: {error}")
        sys.exit(1)
    print(f"{event['type']} for video {event['data']['id']} ({event['data']['status']})")
