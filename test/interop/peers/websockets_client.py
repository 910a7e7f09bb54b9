"""Interop peer: the client scenario (README.md) on python-websockets 10.x.

Usage:
    /usr/bin/python3 websockets_client.py URL [--deflate] [--big BYTES]
"""
import argparse
import asyncio
import json
import os
import sys

import websockets


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def scenario(args):
    steps = []
    opts = dict(
        compression="deflate" if args.deflate else None,
        subprotocols=["chat", "superchat"],
        max_size=64 * 1024 * 1024,
        ping_interval=None,
        open_timeout=10,
        close_timeout=10,
    )
    async with websockets.connect(args.url, **opts) as ws:
        protocol = ws.subprotocol
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions") or ""
        steps.append("open")

        text = "héllo wörld ✓ 🚀"
        await ws.send(text)
        got = await ws.recv()
        check(got == text, f"text echo: {got!r}")
        steps.append("text")

        data = bytes(range(256)) * 4
        await ws.send(data)
        got = await ws.recv()
        check(isinstance(got, bytes) and got == data, "binary echo")
        steps.append("binary")

        await ws.send("")
        got = await ws.recv()
        check(got == "", f"empty text echo: {got!r}")
        steps.append("empty-text")

        await ws.send(b"")
        got = await ws.recv()
        check(got == b"", f"empty binary echo: {got!r}")
        steps.append("empty-binary")

        # An iterable is sent as one fragmented message.
        await ws.send(["frag", "ment", "ed ✓"])
        got = await ws.recv()
        check(got == "fragmented ✓", f"fragmented echo: {got!r}")
        steps.append("fragmented")

        long = "frag:" + "abcdefghij" * 300
        await ws.send(long)
        got = await ws.recv()
        check(got == long, "server-fragmented echo")
        steps.append("server-fragmented")

        waiter = await ws.ping(b"ping-payload")
        await asyncio.wait_for(waiter, 10)
        steps.append("ping")

        await ws.send("ping:xyz")
        got = await ws.recv()
        # A server that cannot send pings says so; the step is then left out.
        check(got in ("pong:xyz", "pong:unsupported"), f"server-ping: {got!r}")
        if got == "pong:xyz":
            steps.append("server-ping")

        if args.big:
            big = os.urandom(args.big)
            await ws.send(big)
            got = await ws.recv()
            check(got == big, f"big echo ({len(got)} bytes)")
            steps.append("big")

        await ws.close(4000, "bye")
        check(ws.close_code == 4000, f"close code {ws.close_code}")
        check(ws.close_reason == "bye", f"close reason {ws.close_reason!r}")
        steps.append("close")

    async with websockets.connect(args.url, **opts) as ws:
        await ws.send("close:4001:server-bye")
        try:
            got = await ws.recv()
            raise AssertionError(f"expected a close, got {got!r}")
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        check(ws.close_code == 4001, f"server close code {ws.close_code}")
        check(ws.close_reason == "server-bye", f"server close reason {ws.close_reason!r}")
        steps.append("server-close")

    return {"protocol": protocol, "extensions": extensions, "steps": steps}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--big", type=int, default=0)
    args = parser.parse_args()
    try:
        result = asyncio.run(asyncio.wait_for(scenario(args), 60))
    except Exception as e:  # noqa: BLE001 - report anything as a failure
        print(f"websockets client failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
