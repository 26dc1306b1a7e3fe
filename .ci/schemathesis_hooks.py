"""Schemathesis hooks for vidgen's CI: a check that every error is in the envelope."""

import schemathesis

ENVELOPE_MEMBERS = (
    "type", "title", "status", "detail", "instance",
    "success", "message", "error_code", "timestamp", "request_id",
)


@schemathesis.check
def error_envelope(ctx, response, case):
    """Every 4xx/5xx answer is an RFC 9457 problem document carrying the envelope."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(
            f"{response.status_code} answered with content type {content_type!r}, "
            "not application/problem+json"
        )
    body = response.json()
    missing = [m for m in ENVELOPE_MEMBERS if m not in body]
    if missing:
        raise AssertionError(f"error body lacks {missing}: {body}")
    if body["status"] != response.status_code or body["success"] is not False:
        raise AssertionError(f"inconsistent envelope: {body}")
    if body["detail"] != body["message"]:
        raise AssertionError(f"detail and message differ: {body}")
    return None
