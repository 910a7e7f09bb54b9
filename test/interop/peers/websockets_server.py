"""Interop peer: a server on python-websockets (legacy asyncio API, 10.x).

Follows the server contract in README.md. Usage:
    /usr/bin/python3 websockets_server.py --port 0 [--no-deflate]
"""
import argparse
import asyncio
import json
import signal
import sys

import websockets


async def handler(ws):
    try:
        async for message in ws:
            if isinstance(message, str):
                if message == "info":
                    exts = ws.response_headers.get("Sec-WebSocket-Extensions")
                    await ws.send(json.dumps({"protocol": ws.subprotocol, "extensions": exts or ""}))
                    continue
                if message.startswith("frag:"):
                    # An iterable is sent as a fragmented message.
                    n = len(message)
                    parts = [message[: n // 3], message[n // 3 : 2 * n // 3], message[2 * n // 3 :]]
                    await ws.send(parts)
                    continue
                if message.startswith("ping:"):
                    payload = message[5:]
                    waiter = await ws.ping(payload.encode())
                    await asyncio.wait_for(waiter, 10)
                    await ws.send("pong:" + payload)
                    continue
                if message.startswith("close:"):
                    _, code, reason = message.split(":", 2)
                    await ws.close(int(code), reason)
                    return
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-deflate", action="store_true")
    args = parser.parse_args()

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)

    async with websockets.serve(
        handler,
        args.host,
        args.port,
        compression=None if args.no_deflate else "deflate",
        # Pick the first subprotocol the client offers (websockets consults
        # select_subprotocol only when the server lists some).
        subprotocols=["chat", "superchat", "echo"],
        select_subprotocol=lambda client, server: client[0] if client else None,
        max_size=64 * 1024 * 1024,
        ping_interval=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://{args.host}:{port}/", flush=True)
        await stop


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
