"""Makes the videos only a real render can make, before Schemathesis runs.

Drives a release server of its own on the CI database (the fuzzing server runs no job
workers): one short video rendered to completion, and one whose render job fails because
its worker dies during every attempt (the server is killed mid-render and restarted until
the job gives up). Prints `completed=ID,failed=ID,owner=ID` for schemathesis_hooks.py.

Usage: seed_fixtures.py BINARY WORKDIR PORT  (server settings come from the environment)
"""

import os
import signal
import subprocess
import sys
import time

import requests

BINARY, WORKDIR, PORT = sys.argv[1], sys.argv[2], sys.argv[3]
BASE = f"http://127.0.0.1:{PORT}"
ENV = dict(os.environ, PORT=PORT, JOB_WORKERS="1", JOB_LEASE_SECONDS="3")
LOG = open(os.path.join(WORKDIR, "seed-server.log"), "ab")


def start():
    server = subprocess.Popen([BINARY], cwd=WORKDIR, env=ENV, stdout=LOG, stderr=LOG)
    for _ in range(100):
        try:
            if requests.get(BASE + "/health", timeout=1).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit("the seeding server did not start")


def wait_for(token, video_id, wanted, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        video = requests.get(f"{BASE}/api/v1/videos/{video_id}",
                             headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        if video["status"] in wanted:
            return video["status"]
        time.sleep(0.2)
    raise SystemExit(f"video {video_id} did not reach {wanted} in {seconds} s")


def login():
    body = {"username": os.environ["ADMIN_EMAIL"], "password": os.environ["ADMIN_PASSWORD"]}
    return requests.post(BASE + "/api/v1/users/login", json=body, timeout=10).json()["access_token"]


def create(token, duration, resolution):
    body = {"title": f"CI fixture {resolution} {duration}s", "prompt": "A fixture of the CI run",
            "resolution": resolution, "duration_seconds": duration}
    response = requests.post(BASE + "/api/v1/videos", json=body,
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return response.json()


def main():
    server = start()
    token = login()
    completed = create(token, 1, "720p")
    wait_for(token, completed["id"], {"completed"}, 120)
    failed = create(token, 60, "1080p")
    wait_for(token, failed["id"], {"processing"}, 60)
    for _ in range(10):
        # Killed while rendering; after a restart the job's lease (3 s) lapses, another
        # worker takes it over (one more attempt) or, attempts spent, fails it.
        server.send_signal(signal.SIGKILL)
        server.wait()
        server = start()
        token = login()
        time.sleep(6)
        if wait_for(token, failed["id"], {"processing", "failed"}, 60) == "failed":
            break
    else:
        raise SystemExit("the render that keeps losing its worker never failed")
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    print(f"completed={completed['id']},failed={failed['id']},owner={completed['owner_id']}")


if __name__ == "__main__":
    main()
