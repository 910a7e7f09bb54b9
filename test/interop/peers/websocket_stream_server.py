"""Peer for the WebSocketStream tests: python-websockets (legacy asyncio API,
10.x) with the handlers the web-platform-tests for WebSocketStream use.

Usage: /usr/bin/python3 websocket_stream_server.py --port 0
Prints `listening on ws://127.0.0.1:PORT/`, then `request PATH` for every
opening handshake it reads, and serves, by path (`?id=ID`
tags the lines it prints about a connection):

- /echo: echoes every message with its type; completes the closing handshake
  echoing the client's close frame (an empty one stays empty: 1005).
- /protocol: sends the subprotocol it picked (the client's first offer among
  alpha, beta, chat) as a text message, then echoes.
- /404: refuses the upgrade with 404.
- /slow-handshake?id=ID: prints `handshake ID`, never answers.
- /delayed-close?id=ID: echoes; when the client's close frame comes, prints
  `close-received ID CODE` and answers it only after the line `release ID`
  arrives on stdin (or a request for /release?id=ID, answered 204).
- /send-backpressure?id=ID&count=N&size=BYTES: sends N binary messages of
  BYTES bytes (message i: the byte i % 256, then random bytes) at once; prints
  `blocked ID I` the first time a send has not completed within 2 s (the
  client is not reading), then `sent-all ID` once every send completed.
- /receive-backpressure?id=ID: reads nothing (max_queue is 1, so the socket
  stops being read) until the line `read ID` arrives on stdin; then counts
  messages and bytes and, on the text message `end`, answers `got N BYTES`.

Every line on stdout is flushed. SIGTERM exits at once.
"""
import argparse
import http
import asyncio
import os
import signal
import sys
import threading
from urllib.parse import parse_qs, urlsplit

import websockets
import websockets.server

events = {}


def event(ident):
    if ident not in events:
        events[ident] = asyncio.Event()
    return events[ident]


def query(path):
    parts = urlsplit(path)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def say(line):
    print(line, flush=True)


class Protocol(websockets.server.WebSocketServerProtocol):
    async def write_close_frame(self, close, data=None):
        route, params = query(self.path)
        if route == "/delayed-close" and self.close_rcvd is not None and self.close_sent is None:
            ident = params.get("id", "")
            say(f"close-received {ident} {close.code}")
            await event(f"release {ident}").wait()
        await super().write_close_frame(close, data)


async def process_request(path, headers):
    say(f"request {path}")
    route, params = query(path)
    if route == "/404":
        return http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"no such resource\n"
    if route == "/release":
        # For clients that cannot write to stdin: the same as the line `release ID`.
        event(f"release {params.get('id', '')}").set()
        return http.HTTPStatus.NO_CONTENT, [], b""
    if route == "/slow-handshake":
        say(f"handshake {params.get('id', '')}")
        await asyncio.sleep(3600)
    return None


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def send_backpressure(ws, params):
    ident = params.get("id", "")
    count = int(params.get("count", "32"))
    size = int(params.get("size", str(1 << 20)))
    blocked = False
    for i in range(count):
        # Random after the first byte: permessage-deflate cannot shrink it.
        task = asyncio.ensure_future(ws.send(bytes([i % 256]) + os.urandom(size - 1)))
        done, _ = await asyncio.wait({task}, timeout=2)
        if not done and not blocked:
            blocked = True
            say(f"blocked {ident} {i}")
        await task
    say(f"sent-all {ident}")
    await echo(ws)


async def receive_backpressure(ws, params):
    ident = params.get("id", "")
    await event(f"read {ident}").wait()
    count = 0
    size = 0
    async for message in ws:
        if message == "end":
            await ws.send(f"got {count} {size}")
            continue
        count += 1
        size += len(message)


async def handler(ws):
    route, params = query(ws.path)
    try:
        if route == "/protocol":
            await ws.send(ws.subprotocol or "")
            await echo(ws)
        elif route == "/send-backpressure":
            await send_backpressure(ws, params)
        elif route == "/receive-backpressure":
            await receive_backpressure(ws, params)
        else:
            await echo(ws)
    except websockets.ConnectionClosed:
        pass


def read_stdin(loop):
    # A thread, not add_reader: stdin may be a file or /dev/null, which epoll refuses.
    for line in sys.stdin:
        name = line.strip()
        loop.call_soon_threadsafe(lambda: event(name).set())


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: os._exit(0))
    threading.Thread(target=read_stdin, args=(loop,), daemon=True).start()

    async with websockets.serve(
        handler,
        args.host,
        args.port,
        create_protocol=Protocol,
        process_request=process_request,
        subprotocols=["alpha", "beta", "chat"],
        select_subprotocol=lambda client, server: next((p for p in client if p in server), None),
        compression="deflate",
        max_size=64 * 1024 * 1024,
        max_queue=1,
        ping_interval=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        say(f"listening on ws://{args.host}:{port}/")
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
