"""The properties the contract's "Scale-out" section promises, checked against two running
instances (tests/cluster/run.sh starts them). Prints what it saw at each step and exits
non-zero when any property is violated.

Environment: CLUSTER_A / CLUSTER_B (base URLs), CLUSTER_A_LOG / CLUSTER_B_LOG (their JSON
logs, for their instance ids), CLUSTER_A_PID / CLUSTER_B_PID, CLUSTER_DATABASE_URL (the
shared PostgreSQL database, read with psql), CLUSTER_FIXTURE (a WebM to upload),
CLUSTER_ADMIN / CLUSTER_ADMIN_PASSWORD (the bootstrap admin).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid

import requests

A = os.environ["CLUSTER_A"]
B = os.environ["CLUSTER_B"]
NAMES = {A: "A", B: "B"}
PASSWORD = "Cluster-Passw0rd"
TIMEOUT = 10
failures = []


def say(message):
    print(message, flush=True)


def check(condition, message):
    if condition:
        say(f"  ok: {message}")
    else:
        say(f"  VIOLATED: {message}")
        failures.append(message)
    return condition


def sql(query):
    """One value (or rows of |-separated values) from the shared database."""
    out = subprocess.run(
        ["psql", "-qtAX", os.environ["CLUSTER_DATABASE_URL"], "-c", query],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    return out


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def login(base, username, password=PASSWORD):
    response = requests.post(f"{base}/api/v1/users/login",
                             json={"username": username, "password": password}, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()["access_token"]


def register(base, label):
    name = f"{label}_{uuid.uuid4().hex[:8]}"
    response = requests.post(f"{base}/api/v1/users", json={
        "username": name, "name": f"Cluster {label}", "email": f"{name}@cluster.test",
        "password": PASSWORD, "confirm_password": PASSWORD,
    }, timeout=TIMEOUT)
    if response.status_code != 201:
        raise RuntimeError(f"registering {name} on {NAMES[base]}: {response.status_code} {response.text}")
    user = response.json()
    return user["id"], name, login(base, name)


def create_video(base, token, **fields):
    body = {"title": "Cluster render", "prompt": "A paper boat drifting down a rainy street",
            "duration_seconds": 2}
    body.update(fields)
    response = requests.post(f"{base}/api/v1/videos", json=body, headers=auth(token), timeout=TIMEOUT)
    if response.status_code != 202:
        raise RuntimeError(f"creating a video on {NAMES[base]}: {response.status_code} {response.text}")
    return response.json()["id"]


def wait_video(base, token, video_id, status="completed", limit=180):
    deadline = time.time() + limit
    while True:
        video = requests.get(f"{base}/api/v1/videos/{video_id}", headers=auth(token),
                             timeout=TIMEOUT).json()
        if video.get("status") == status:
            return video
        if video.get("status") == "failed" and status != "failed":
            raise RuntimeError(f"video {video_id} failed: {video}")
        if time.time() > deadline:
            raise RuntimeError(f"video {video_id} did not reach {status} in {limit} s: {video}")
        time.sleep(0.25)


def instance_ids():
    """Each instance's id, from its start-up line ("vidgen listening")."""
    ids = {}
    for name, path in (("A", os.environ["CLUSTER_A_LOG"]), ("B", os.environ["CLUSTER_B_LOG"])):
        with open(path, encoding="utf-8") as log:
            for line in log:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                fields = entry.get("fields", entry)
                if "instance_id" in fields:
                    ids[name] = str(fields["instance_id"])
    return ids


def render_jobs(video_id):
    rows = sql(f"SELECT state, attempts, COALESCE(lease_owner, '') FROM jobs "
               f"WHERE kind = 'render_video' AND video_id = {int(video_id)}")
    return [row.split("|") for row in rows.splitlines() if row]


def ranged(url, token=None, first=0, last=99):
    headers = {"Range": f"bytes={first}-{last}"}
    if token:
        headers.update(auth(token))
    return requests.get(url, headers=headers, timeout=TIMEOUT)


# ---- the properties --------------------------------------------------------------------

def rendered_once_and_served_by_the_other():
    say("a video created through A is rendered once and its content downloads through B")
    _, _, token = register(A, "render")
    video_id = create_video(A, token)
    video = wait_video(B, token, video_id)
    jobs = render_jobs(video_id)
    check(len(jobs) == 1 and jobs[0][0] == "succeeded" and jobs[0][1] == "1",
          f"one render job, succeeded at its first attempt: {jobs}")
    partial = ranged(video["content_url"])
    check(partial.status_code == 206 and len(partial.content) == 100
          and partial.headers.get("Content-Range", "").startswith("bytes 0-99/"),
          f"B serves a Range of the signed content_url: {partial.status_code} "
          f"{partial.headers.get('Content-Range')} {len(partial.content)} bytes")
    whole = requests.get(f"{B}/api/v1/videos/{video_id}/content", headers=auth(token), timeout=TIMEOUT)
    check(whole.status_code == 200 and whole.content[4:8] == b"ftyp"
          and len(whole.content) == video.get("file_size"),
          f"B serves the whole MP4 with the bearer token: {whole.status_code}, "
          f"{len(whole.content)} bytes of {video.get('file_size')}")
    check(bool(whole.headers.get("ETag")), f"with an ETag: {whole.headers.get('ETag')}")
    thumb = requests.get(f"{A}/api/v1/videos/{video_id}/thumbnail", headers=auth(token), timeout=TIMEOUT)
    check(thumb.status_code == 200 and thumb.content[:8] == b"\x89PNG\r\n\x1a\n",
          f"A serves the thumbnail: {thumb.status_code}")


def upload_through_b_served_by_a():
    say("an upload through B is probed and served by A")
    _, _, token = register(B, "upload")
    with open(os.environ["CLUSTER_FIXTURE"], "rb") as fixture:
        data = fixture.read()
    response = requests.post(f"{B}/api/v1/videos/upload", headers=auth(token), timeout=TIMEOUT,
                             files={"file": ("clip.webm", data, "video/webm")},
                             data={"title": "Uploaded through B"})
    if not check(response.status_code == 202, f"B accepts the upload: {response.status_code} {response.text[:200]}"):
        return
    video_id = response.json()["id"]
    video = wait_video(A, token, video_id)
    check(video.get("width") and video.get("duration"),
          f"probed: {video.get('width')}x{video.get('height')}, {video.get('duration')} s")
    partial = ranged(f"{A}/api/v1/videos/{video_id}/content", token, 0, 3)
    check(partial.status_code == 206 and partial.content == data[:4],
          f"A serves the uploaded bytes with Range: {partial.status_code} {partial.content!r}")
    whole = requests.get(f"{A}/api/v1/videos/{video_id}/content", headers=auth(token), timeout=TIMEOUT)
    check(whole.content == data and whole.headers.get("Content-Type", "").startswith("video/webm"),
          f"A serves the whole file unchanged: {len(whole.content)} of {len(data)} bytes, "
          f"{whole.headers.get('Content-Type')}")


def suspension_through_a_seen_by_b(admin_a):
    say("a suspension through A rejects the user's token on B on the very next request")
    user_id, _, token = register(A, "suspended")
    warm = requests.get(f"{B}/api/v1/users/me", headers=auth(token), timeout=TIMEOUT)
    check(warm.status_code == 200, f"the token works on B first (and B caches the user): {warm.status_code}")
    changed = requests.patch(f"{A}/api/v1/users/{user_id}/status", json={"status": "suspended"},
                             headers=auth(admin_a), timeout=TIMEOUT)
    check(changed.status_code == 200, f"A suspends the user: {changed.status_code}")
    after = requests.get(f"{B}/api/v1/users/me", headers=auth(token), timeout=TIMEOUT)
    check(after.status_code in (401, 403), f"B rejects the token at once: {after.status_code}")


def role_change_through_b_seen_by_a(admin_b, admin_a):
    say("a role change through B is seen by A at once")
    user_id, name, token = register(A, "promoted")
    warm = requests.get(f"{A}/api/v1/users/me", headers=auth(token), timeout=TIMEOUT)
    check(warm.status_code == 200 and warm.json().get("role") == "user",
          f"A knows the user as a user (and caches it): {warm.status_code} {warm.json().get('role')}")
    seen = requests.get(f"{A}/api/v1/users/{user_id}", headers=auth(admin_a), timeout=TIMEOUT)
    changed = requests.patch(f"{B}/api/v1/users/{user_id}/role", json={"role": "moderator"},
                             headers=auth(admin_b), timeout=TIMEOUT)
    check(changed.status_code == 200, f"B makes the user a moderator: {changed.status_code}")
    seen = requests.get(f"{A}/api/v1/users/{user_id}", headers=auth(admin_a), timeout=TIMEOUT)
    check(seen.status_code == 200 and seen.json().get("role") == "moderator",
          f"A answers the new role: {seen.json().get('role')}")
    old = requests.get(f"{A}/api/v1/users/me", headers=auth(token), timeout=TIMEOUT)
    check(old.status_code == 401, f"A rejects the user's old token (a role change ends sessions): {old.status_code}")
    fresh = login(A, name)
    me = requests.get(f"{A}/api/v1/users/me", headers=auth(fresh), timeout=TIMEOUT).json()
    check(me.get("role") == "moderator", f"a new session on A is a moderator's: {me.get('role')}")


def lists_follow_writes_anywhere(admin_a, admin_b):
    say("list pages cached on one instance follow writes made through the other at once")
    user_id, name, token = register(A, "lister")

    def my_videos(base):
        response = requests.get(f"{base}/api/v1/videos", headers=auth(token), timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()

    check(my_videos(B) == [], "B lists no videos yet (and caches the page)")
    video_id = create_video(A, token, title="Listed once")
    seen = my_videos(B)
    check([v["id"] for v in seen] == [video_id], f"B lists the video created through A: {seen}")
    title = f"Listed {uuid.uuid4().hex[:8]}"
    renamed = requests.patch(f"{B}/api/v1/videos/{video_id}", json={"title": title},
                             headers=auth(token), timeout=TIMEOUT)
    check(renamed.status_code == 200, f"B renames it: {renamed.status_code}")
    seen = my_videos(A)
    check([v["title"] for v in seen] == [title], f"A lists the new title: {seen}")

    def listed_status(base, admin):
        response = requests.get(f"{base}/api/v1/users", params={"search": name},
                                headers=auth(admin), timeout=TIMEOUT)
        response.raise_for_status()
        return [u["status"] for u in response.json()]

    check(listed_status(B, admin_b) == ["active"], "B lists the user as active (and caches it)")
    changed = requests.patch(f"{A}/api/v1/users/{user_id}/status", json={"status": "suspended"},
                             headers=auth(admin_a), timeout=TIMEOUT)
    check(changed.status_code == 200, f"A suspends the user: {changed.status_code}")
    check(listed_status(B, admin_b) == ["suspended"], "B lists the user as suspended at once")

    def titled(base, admin):
        response = requests.get(f"{base}/api/v1/videos", params={"search": title},
                                headers=auth(admin), timeout=TIMEOUT)
        response.raise_for_status()
        return [v["id"] for v in response.json()]

    check(titled(B, admin_b) == [video_id], "an admin on B lists every owner's videos, this one too")
    deleted = requests.delete(f"{A}/api/v1/users/{user_id}", headers=auth(admin_a), timeout=TIMEOUT)
    check(deleted.status_code == 204, f"A deletes the user: {deleted.status_code}")
    check(titled(B, admin_b) == [], "B no longer lists the deleted user's video")


def one_rate_limit_budget():
    say("the rate-limit budget is one across instances (RATE_LIMIT_REQUESTS=600 per minute)")
    _, _, token = register(A, "limited")
    counts = {(base, status): 0 for base in (A, B) for status in ("allowed", "limited", "other")}
    lock = threading.Lock()

    def hammer(base, n):
        session = requests.Session()
        for _ in range(n):
            status = session.get(f"{base}/api/v1/users/me", headers=auth(token), timeout=TIMEOUT).status_code
            key = "allowed" if status == 200 else "limited" if status == 429 else "other"
            with lock:
                counts[(base, key)] += 1

    threads = [threading.Thread(target=hammer, args=(base, 250)) for base in (A, B, A, B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    allowed = counts[(A, "allowed")] + counts[(B, "allowed")]
    say(f"  1000 requests, 500 per instance: A {counts[(A, 'allowed')]} allowed / "
        f"{counts[(A, 'limited')]} limited, B {counts[(B, 'allowed')]} allowed / {counts[(B, 'limited')]} limited")
    # Alone, each instance would allow all of its 500 (under 600); shared, about 600 pass
    # (plus what the budget refills while the requests run).
    check(600 <= allowed <= 700, f"about one budget passes in all: {allowed}")
    check(counts[(A, "limited")] > 0 and counts[(B, "limited")] > 0, "both instances refuse once it is spent")
    check(counts[(A, "other")] + counts[(B, "other")] == 0, "no other answers")


class Stream(threading.Thread):
    """Reads a progress stream to its end, keeping each event's data."""

    def __init__(self, base, token, video_id):
        super().__init__(daemon=True)
        self.base, self.token, self.video_id = base, token, video_id
        self.events, self.error = [], None

    def run(self):
        try:
            with requests.get(f"{self.base}/api/v1/videos/{self.video_id}/events",
                              headers={**auth(self.token), "Accept": "text/event-stream"},
                              stream=True, timeout=(TIMEOUT, 60)) as response:
                if response.status_code != 200:
                    self.error = f"status {response.status_code}"
                    return
                data = []
                for line in response.iter_lines(decode_unicode=True):
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "" and data:
                        self.events.append(json.loads("\n".join(data)))
                        data = []
        except Exception as error:  # noqa: BLE001 - reported as what was seen
            self.error = repr(error)

    def summary(self):
        return [(e.get("status"), e.get("progress")) for e in self.events]


def streams_follow_a_render_anywhere():
    say("a progress stream on either instance follows the render, whichever instance runs it")
    _, _, token = register(A, "watcher")
    video_id = create_video(A, token, duration_seconds=10, resolution="1080p")
    streams = [Stream(base, token, video_id) for base in (A, B)]
    for stream in streams:
        stream.start()
    for stream in streams:
        stream.join(120)
    ids = instance_ids()
    owners = {owner for _, _, owner in render_jobs(video_id)}
    say(f"  render job lease owners: {owners or 'released'}; instances {ids}")
    for stream in streams:
        seen = stream.summary()
        name = NAMES[stream.base]
        progress = [p for s, p in seen if s == "processing"]
        check(stream.error is None and seen and seen[-1][0] == "completed"
              and len(progress) >= 2 and progress == sorted(progress),
              f"the stream on {name} saw processing with rising progress, then completed: "
              f"{seen[:3]}...{seen[-2:]} ({len(seen)} events){' error ' + stream.error if stream.error else ''}")


def killed_mid_render_is_taken_over():
    say("SIGKILL of the instance rendering a video leaves the job to the other, which completes it")
    _, _, token = register(A, "survivor")
    video_id = create_video(A, token, duration_seconds=30, resolution="1080p")
    ids = instance_ids()
    deadline = time.time() + 60
    owner = ""
    while time.time() < deadline:
        jobs = render_jobs(video_id)
        if jobs and jobs[0][0] == "running" and jobs[0][2]:
            owner = jobs[0][2]
            break
        time.sleep(0.1)
    renderer = next((name for name, instance in ids.items() if instance and instance in owner), None)
    if not check(renderer is not None, f"one instance runs the render (lease {owner!r}, instances {ids})"):
        return
    time.sleep(1.0)  # well into the render
    victim_pid = int(os.environ[f"CLUSTER_{renderer}_PID"])
    os.kill(victim_pid, signal.SIGKILL)
    survivor = B if renderer == "A" else A
    say(f"  killed instance {renderer} (pid {victim_pid}) mid-render; {NAMES[survivor]} carries on")
    video = wait_video(survivor, token, video_id, limit=240)
    jobs = render_jobs(video_id)
    check(len(jobs) == 1 and jobs[0][0] == "succeeded" and int(jobs[0][1]) >= 2,
          f"the same job succeeded on a later attempt: {jobs}")
    check(abs(float(video.get("duration") or 0) - 30) < 0.5 and video.get("height") == 1080,
          f"the whole video: {video.get('duration')} s at {video.get('width')}x{video.get('height')}")
    whole = requests.get(f"{survivor}/api/v1/videos/{video_id}/content", headers=auth(token), timeout=30)
    check(whole.status_code == 200 and len(whole.content) == video.get("file_size"),
          f"{NAMES[survivor]} serves it: {whole.status_code}, {len(whole.content)} bytes")


def main():
    admin = os.environ["CLUSTER_ADMIN"]
    admin_password = os.environ["CLUSTER_ADMIN_PASSWORD"]
    admin_a = login(A, admin, admin_password)
    admin_b = login(B, admin, admin_password)
    steps = [
        rendered_once_and_served_by_the_other,
        upload_through_b_served_by_a,
        lambda: suspension_through_a_seen_by_b(admin_a),
        lambda: role_change_through_b_seen_by_a(admin_b, admin_a),
        lambda: lists_follow_writes_anywhere(admin_a, admin_b),
        one_rate_limit_budget,
        streams_follow_a_render_anywhere,
        # Last: it kills an instance.
        killed_mid_render_is_taken_over,
    ]
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - a step that cannot finish is a violation
            say("  VIOLATED: the step could not finish:\n" + traceback.format_exc())
            failures.append(getattr(step, "__name__", "a step"))
    if failures:
        say(f"\n{len(failures)} violated: " + "; ".join(failures))
        return 1
    say("\nevery scale-out property held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
