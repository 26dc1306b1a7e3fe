"""Schemathesis hooks for vidgen's CI.

- `error_envelope`: every error is in the envelope.
- A working admin identity for the whole run: the fuzzer's token belongs to an admin the
  hooks created; when that token stops working (401/403 after the fuzzer deleted,
  suspended, demoted or logged out its user, or changed its password) or the fuzzer
  changes that user, the hooks make a fresh admin. A second admin, the keeper (the
  server's bootstrap admin, whose credentials the fuzzer never sees), promotes it; if the
  fuzzer hits the keeper, the fuzzer's admin makes a fresh keeper. Changes aimed at the
  keeper or a spare admin (the fuzzer tries small ids, which is where they are) go to a
  decoy user instead, so that the run never loses every admin it could recover with.
- Inputs only the hooks can know, given to every valid case: fixture videos
  (`VIDGEN_FIXTURE_VIDEOS`: `completed=ID,failed=ID,owner=ID`, made by `seed_fixtures.py`
  before the run) to the file and retry operations, which answer 2xx only for a rendered
  or failed video; a video to delete; an existing username; a live refresh token; the
  fuzzer's own password; a real video file (the WebM fixture) for uploads.
- Every answer's status is recorded per operation in `VIDGEN_STATUS_LOG` (JSON), which
  `check_coverage.py` reads after the run.
"""

import atexit
import json
import os
import threading
import traceback
import uuid

import requests
import schemathesis

BASE_URL = os.environ.get("VIDGEN_BASE_URL", "http://127.0.0.1:18765")
KEEPER_USERNAME = os.environ.get("VIDGEN_KEEPER_USERNAME", "admin@vidgen.test")
KEEPER_PASSWORD = os.environ.get("VIDGEN_KEEPER_PASSWORD", "Adm1nPassword")
STATUS_LOG = os.environ.get("VIDGEN_STATUS_LOG")
PASSWORD = "Fuzz3rPassword"
TIMEOUT = 10

HOOK_LOG = os.environ.get("VIDGEN_HOOK_LOG")


def note(message):
    """A line in the hooks' own log (identity changes, inputs that could not be made)."""
    if HOOK_LOG:
        with open(HOOK_LOG, "a", encoding="utf-8") as out:
            out.write(message + "\n")


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


class Identities:
    """The fuzzer's admin and the keeper, each as (user id, username, token)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.session = requests.Session()
        self.keeper = None
        self.fuzzer = None
        self.created = 0
        # Every admin the hooks made, newest last: spares when both current ones are lost.
        self.made = []
        # A plain user that takes the changes the fuzzer aims at the keeper or a spare.
        self.decoy = None

    def _post(self, path, body, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.session.post(BASE_URL + path, json=body, headers=headers, timeout=TIMEOUT)

    def _patch(self, path, body, token):
        return self.session.patch(
            BASE_URL + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )

    def _me(self, token):
        response = self.session.get(
            BASE_URL + "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        return response.json() if response.status_code == 200 else None

    def _login(self, username, password):
        response = self._post("/api/v1/users/login", {"username": username, "password": password})
        if response.status_code != 200:
            return None
        return response.json()["access_token"]

    def _is_admin(self, identity):
        if identity is None:
            return False
        me = self._me(identity["token"])
        return bool(me) and me.get("role") == "admin" and me.get("id") == identity["id"]

    def _fresh_admin(self, promoter_token, label):
        """Registers a new user and makes it an admin with `promoter_token`."""
        self.created += 1
        name = f"ci-{label}-{self.created}-{uuid.uuid4().hex[:8]}"
        response = self._post(
            "/api/v1/users",
            {"username": name, "name": f"CI {label}", "email": f"{name}@vidgen.test",
             "password": PASSWORD, "confirm_password": PASSWORD},
        )
        if response.status_code != 201:
            raise RuntimeError(f"registering {name} answered {response.status_code}: {response.text}")
        user_id = response.json()["id"]
        promoted = self._patch(f"/api/v1/users/{user_id}/role", {"role": "admin"}, promoter_token)
        if promoted.status_code != 200:
            raise RuntimeError(f"promoting {name} answered {promoted.status_code}: {promoted.text}")
        token = self._login(name, PASSWORD)
        if token is None:
            raise RuntimeError(f"{name} cannot log in")
        note(f"new {label} admin {name} (id {user_id})")
        identity = {"id": user_id, "username": name, "password": PASSWORD, "token": token}
        self.made.append(identity)
        return identity

    def _working_keeper(self):
        if self._is_admin(self.keeper):
            return self.keeper
        if self.keeper is not None:
            token = self._login(self.keeper["username"], self.keeper["password"])
            if token:
                self.keeper["token"] = token
                if self._is_admin(self.keeper):
                    return self.keeper
        if self.keeper is None:
            token = self._login(KEEPER_USERNAME, KEEPER_PASSWORD)
            me = self._me(token) if token else None
            if me and me.get("role") == "admin":
                self.keeper = {"id": me["id"], "username": KEEPER_USERNAME,
                               "password": KEEPER_PASSWORD, "token": token}
                return self.keeper
        # Any admin made earlier that still works becomes the keeper.
        for identity in reversed(self.made):
            if identity is self.fuzzer:
                continue
            token = self._login(identity["username"], identity["password"])
            if token:
                identity["token"] = token
                if self._is_admin(identity):
                    note(f"{identity['username']} is the keeper now")
                    self.keeper = identity
                    return identity
        # The keeper is gone: the fuzzer's admin, if it still works, makes a new one.
        if self._is_admin(self.fuzzer):
            self.keeper = self._fresh_admin(self.fuzzer["token"], "keeper")
            return self.keeper
        raise RuntimeError("both the keeper and the fuzzer's admin were lost")

    def fuzzer_token(self):
        """A token of a working admin for the fuzzer, made anew when needed."""
        with self.lock:
            if not self._is_admin(self.fuzzer):
                keeper = self._working_keeper()
                self.fuzzer = self._fresh_admin(keeper["token"], "fuzzer")
            return self.fuzzer["token"]

    def fuzzer_credentials(self):
        """The fuzzer admin's id and password (made first if needed)."""
        with self.lock:
            self.fuzzer_token()
            return self.fuzzer["id"], self.fuzzer["password"]

    def fuzzer_username(self):
        with self.lock:
            self.fuzzer_token()
            return self.fuzzer["username"]

    def refresh_token(self):
        """A live refresh token of the fuzzer's admin, from a login of its own."""
        with self.lock:
            self.fuzzer_token()
            response = self._post("/api/v1/users/login",
                                  {"username": self.fuzzer["username"], "password": self.fuzzer["password"]})
            return response.json().get("refresh_token") if response.status_code == 200 else None

    def throwaway_video(self):
        """A new (never rendered) video of the fuzzer's admin, for the fuzzer to delete."""
        with self.lock:
            token = self.fuzzer_token()
            response = self._post(
                "/api/v1/videos",
                {"title": "CI throwaway", "prompt": "Made to be deleted", "duration_seconds": 1},
                token,
            )
            if response.status_code != 202:
                note(f"no throwaway video: {response.status_code} {response.text}")
                return None
            return response.json().get("id")

    def by_token(self, token):
        """The identity (made by the hooks, or the keeper) whose current token this is."""
        with self.lock:
            for identity in self.made + [self.keeper, self.fuzzer]:
                if identity is not None and identity["token"] == token:
                    return identity
            return None

    def protected_ids(self):
        """The keeper's and the spare admins' ids (the fuzzer's own admin may be hit)."""
        with self.lock:
            if self.keeper is None:
                try:
                    self._working_keeper()
                except Exception:
                    note("no keeper to protect:\n" + traceback.format_exc())
            ids = {i["id"] for i in self.made if i is not self.fuzzer}
            if self.keeper is not None:
                ids.add(self.keeper["id"])
            return ids

    def decoy_id(self):
        """The id of a plain user made by the hooks, registered anew once deleted."""
        with self.lock:
            if self.decoy is None:
                self.created += 1
                name = f"ci-decoy-{self.created}-{uuid.uuid4().hex[:8]}"
                response = self._post(
                    "/api/v1/users",
                    {"username": name, "name": "CI decoy", "email": f"{name}@vidgen.test",
                     "password": PASSWORD, "confirm_password": PASSWORD},
                )
                if response.status_code != 201:
                    raise RuntimeError(f"registering {name} answered {response.status_code}")
                self.decoy = response.json()["id"]
                note(f"new decoy {name} (id {self.decoy})")
            return self.decoy

    def touched(self, user_id):
        """The fuzzer changed or deleted this user: replace it if it is one of ours."""
        with self.lock:
            if user_id == self.decoy:
                # Deleted or not, a fresh decoy costs one registration.
                self.decoy = None
                return
            ours = [i for i in self.made + [self.keeper] if i is not None and i["id"] == user_id]
            if ours:
                note(f"the fuzzer changed user {user_id} ({ours[0]['username']})")
                self.made = [i for i in self.made if i["id"] != user_id]
            if self.fuzzer is not None and user_id == self.fuzzer["id"]:
                self.fuzzer = None
            if self.keeper is not None and user_id == self.keeper["id"]:
                # Made before the fuzzer's admin is replaced, while that one still works.
                if self._is_admin(self.fuzzer):
                    self.keeper = self._fresh_admin(self.fuzzer["token"], "keeper")
                else:
                    self.keeper = None


IDENTITIES = Identities()


@schemathesis.auth(refresh_interval=1, retry_on=[401, 403])
class FuzzerAdmin:
    """Bearer token of the fuzzer's admin, checked at most once a second."""

    def get(self, case, ctx):
        try:
            return IDENTITIES.fuzzer_token()
        except Exception:
            note("no token for the fuzzer:\n" + traceback.format_exc())
            raise

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
        if _operation_id(case) in SELF_ONLY and _is_positive(case):
            _as_token_owner(case, data)


# Operations a user may only do to themselves: a valid case names the user whose token it
# carries. That is decided here, where the token is known (the token cached by the auth
# provider can belong to an admin the hooks have just replaced, and a mismatch is 403).
SELF_ONLY = {"change_password", "delete_user_avatar"}


def _as_token_owner(case, token):
    identity = IDENTITIES.by_token(token)
    if identity is None:
        note(f"{_operation_id(case)}: the token belongs to no identity of the hooks")
        return
    case.path_parameters = dict(case.path_parameters or {}, user_id=identity["id"])
    if _operation_id(case) == "change_password" and isinstance(case.body, dict):
        case.body = dict(case.body, current_password=identity["password"])


def _fixture_videos():
    raw = os.environ.get("VIDGEN_FIXTURE_VIDEOS", "")
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {name: int(value) for name, value in pairs if value.isdigit()}


FIXTURES = _fixture_videos()
FIXTURE_FOR = {
    "get_video_content": "completed",
    "get_video_thumbnail": "completed",
    "get_user_video": "completed",
    "retry_video": "failed",
    # A completed video's stream sends its state and ends; a pending one would stay open.
    "stream_video_events": "completed",
}


def _is_positive(case):
    """Whether every part of the case was generated valid (the coverage phase marks a
    negative header, say, on its component only)."""
    meta = getattr(case, "_meta", None)
    if meta is None:
        return True
    generation = getattr(meta, "generation", None)
    if generation is not None and generation.mode.is_negative:
        return False
    components = getattr(meta, "components", None) or {}
    return not any(
        getattr(getattr(component, "mode", None), "is_negative", False)
        for component in components.values()
    )


def _operation_id(case):
    return case.operation.definition.raw.get("operationId", case.operation.label)


@schemathesis.hook
def map_case(ctx, case):
    """In valid cases, inputs that only the hooks can know: a fixture
    video where only a rendered or failed one answers 2xx, a video of the fuzzer's to
    delete, a live refresh token, the fuzzer's own current password."""
    if _operation_id(case) == "stream_video_events":
        # Any existing video the fuzzer can see is followed until it settles, and the
        # fuzzing server renders nothing: every well-formed id follows the completed
        # fixture instead (malformed ids stay, for the 422s).
        video_id = (case.path_parameters or {}).get("video_id")
        if isinstance(video_id, int) and video_id > 0 and "completed" in FIXTURES:
            case.path_parameters = dict(case.path_parameters, video_id=FIXTURES["completed"])
    _spare_the_admins(case)
    if not _is_positive(case):
        return case
    # Every valid case of these operations gets the inputs only the hooks know (a spent
    # refresh token, a random username or video id cannot succeed), so that each of them
    # is answered with a 2xx in every run; invalid cases stay fully random.
    try:
        return _with_known_inputs(case)
    except Exception:
        note(f"no known inputs for {_operation_id(case)}:\n" + traceback.format_exc())
        return case


def _spare_the_admins(case):
    """A change aimed at the keeper or a spare admin goes to the decoy instead (valid or
    not: an invalid header alone can still leave the change valid)."""
    if case.method.upper() not in MUTATING:
        return
    user_id = (case.path_parameters or {}).get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return
    try:
        if user_id in IDENTITIES.protected_ids():
            case.path_parameters = dict(case.path_parameters, user_id=IDENTITIES.decoy_id())
    except Exception:
        note(f"{_operation_id(case)}: the admins could not be spared:\n" + traceback.format_exc())


def _with_known_inputs(case):
    operation = _operation_id(case)
    parameters = dict(case.path_parameters or {})
    fixture = FIXTURES.get(FIXTURE_FOR.get(operation, ""))
    if operation in ("get_video_content", "get_video_thumbnail", "get_user_avatar") and case.query:
        # A made-up link signature is 404 by design: valid cases use the bearer token.
        case.query = {k: v for k, v in case.query.items() if k not in ("expires", "signature")}
    if fixture is not None:
        parameters["video_id"] = fixture
        if "user_id" in parameters and "owner" in FIXTURES:
            parameters["user_id"] = FIXTURES["owner"]
        case.path_parameters = parameters
    elif operation == "delete_video":
        video_id = IDENTITIES.throwaway_video()
        if video_id is not None:
            parameters["video_id"] = video_id
            case.path_parameters = parameters
    elif operation == "upload_video":
        # Random bytes are never a video: a valid case uploads the project's WebM fixture.
        body = dict(case.body) if isinstance(case.body, dict) else {}
        body["file"] = UPLOAD_FIXTURE
        body.pop("webhook_url", None)
        case.body = body
        # Schemathesis re-validates a changed body against the schema, and raw bytes for a
        # `format: binary` part do not pass its JSON-schema check: the case would count as
        # invalid data (and its 202 as a wrongly accepted request). The case was valid
        # as generated and stays valid, so its metadata is kept as generated.
        meta = getattr(case, "_meta", None)
        if meta is not None and hasattr(meta, "_dirty"):
            meta._dirty.clear()
    elif operation == "get_user_by_username":
        parameters["username"] = IDENTITIES.fuzzer_username()
        case.path_parameters = parameters
    elif operation == "refresh_token":
        token = IDENTITIES.refresh_token()
        if token is not None:
            case.body = {"refresh_token": token}
        else:
            note("no live refresh token: the fuzzer's login failed")
    elif operation == "change_password":
        # The user and its current password are the token's owner's (see `_as_token_owner`).
        user_id, password = IDENTITIES.fuzzer_credentials()
        new_password = f"N3w{uuid.uuid4().hex[:12]}"
        parameters["user_id"] = user_id
        case.path_parameters = parameters
        case.body = {"current_password": password, "new_password": new_password,
                     "confirm_password": new_password}
    return case


with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                       "sample.webm"), "rb") as _fixture:
    UPLOAD_FIXTURE = _fixture.read()

STATUSES = {}
STATUS_LOCK = threading.Lock()
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


@schemathesis.hook
def after_call(ctx, case, response):
    operation_id = _operation_id(case)
    with STATUS_LOCK:
        counts = STATUSES.setdefault(operation_id, {})
        key = str(response.status_code)
        counts[key] = counts.get(key, 0) + 1
    if case.method.upper() in MUTATING and 200 <= response.status_code < 300:
        raw_id = (case.path_parameters or {}).get("user_id")
        try:
            user_id = int(raw_id)
        except (TypeError, ValueError):
            return
        IDENTITIES.touched(user_id)


def _write_statuses():
    if STATUS_LOG:
        with STATUS_LOCK, open(STATUS_LOG, "w", encoding="utf-8") as out:
            json.dump(STATUSES, out, indent=1, sort_keys=True)


atexit.register(_write_statuses)
