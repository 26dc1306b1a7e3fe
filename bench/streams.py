"""Holds N progress streams open against a vidgen server until stdin closes.

Usage: streams.py PORT TOKEN COUNT VIDEO_ID...  (streams are spread over the videos)
Prints "open N" once every stream answered 200 with its first event, then keeps reading
(and discarding) what the streams send until stdin reaches its end.
"""

import asyncio
import sys


async def hold(port, token, video_id, ready):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/v1/videos/{video_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise SystemExit(f"stream refused: {status!r}")
    await reader.readuntil(b"\n\n")  # headers end, first chunk follows
    ready.release()
    while await reader.read(65536):
        pass


async def main():
    port, token, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    videos = sys.argv[4:]
    ready = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(hold(port, token, videos[i % len(videos)], ready)) for i in range(count)]
    for _ in range(count):
        await ready.acquire()
    print(f"open {count}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in tasks:
        task.cancel()


asyncio.run(main())
