"""Interop peer: the client scenario (README.md) on Python's wsproto 1.2.

Usage:
    /usr/bin/python3 wsproto_client.py URL [--deflate] [--big BYTES]
"""
import argparse
import json
import os
import socket
import sys
from urllib.parse import urlparse

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
)
from wsproto.extensions import PerMessageDeflate

from wsproto_peer import Closed, Peer, send_fragmented


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def connect(url, deflate):
    u = urlparse(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    peer = Peer(sock, WSConnection(ConnectionType.CLIENT))
    extensions = [PerMessageDeflate()] if deflate else []
    peer.send(
        Request(
            host=f"{u.hostname}:{u.port}",
            target=u.path or "/",
            subprotocols=["chat", "superchat"],
            extensions=extensions,
        )
    )
    for event in peer.events():
        if isinstance(event, AcceptConnection):
            names = ", ".join(e.name for e in event.extensions)
            return peer, event.subprotocol, names
        if isinstance(event, RejectConnection):
            raise AssertionError(f"rejected with {event.status_code}")


def echo(peer, data):
    peer.send(Message(data=data))
    got, _ = peer.recv_message()
    return got


def scenario(args):
    steps = []
    peer, protocol, extensions = connect(args.url, args.deflate)
    steps.append("open")

    text = "héllo wörld ✓ 🚀"
    got = echo(peer, text)
    check(got == text, f"text echo: {got!r}")
    steps.append("text")

    data = bytes(range(256)) * 4
    got = echo(peer, data)
    check(got == data, "binary echo")
    steps.append("binary")

    check(echo(peer, "") == "", "empty text echo")
    steps.append("empty-text")
    check(echo(peer, b"") == b"", "empty binary echo")
    steps.append("empty-binary")

    send_fragmented(peer, "fragmented ✓")
    got, _ = peer.recv_message()
    check(got == "fragmented ✓", f"fragmented echo: {got!r}")
    steps.append("fragmented")

    long = "frag:" + "abcdefghij" * 300
    peer.send(Message(data=long))
    got, frames = peer.recv_message()
    check(got == long, "server-fragmented echo")
    steps.append("server-fragmented")

    peer.send(Ping(payload=b"ping-payload"))
    got = echo(peer, "after-ping")  # the pong comes before this echo
    check(got == "after-ping" and peer.pongs == [b"ping-payload"], f"pongs {peer.pongs!r}")
    steps.append("ping")

    got = echo(peer, "ping:xyz")
    # A server that cannot send pings says so; the step is then left out.
    check(got in ("pong:xyz", "pong:unsupported"), f"server-ping: {got!r}")
    if got == "pong:xyz":
        steps.append("server-ping")

    if args.big:
        big = os.urandom(args.big)
        got = echo(peer, big)
        check(got == big, f"big echo ({len(got)} bytes)")
        steps.append("big")

    peer.send(CloseConnection(code=4000, reason="bye"))
    code, reason = peer.wait_close()
    check((code, reason) == (4000, "bye"), f"close {code} {reason!r}")
    peer.sock.close()
    steps.append("close")

    peer, _, _ = connect(args.url, args.deflate)
    peer.send(Message(data="close:4001:server-bye"))
    try:
        got, _ = peer.recv_message()
        raise AssertionError(f"expected a close, got {got!r}")
    except Closed as c:
        check((c.code, c.reason) == (4001, "server-bye"), f"server close {c.code} {c.reason!r}")
    peer.sock.close()
    steps.append("server-close")

    return {
        "protocol": protocol,
        "extensions": extensions,
        "steps": steps,
        "serverFragments": frames,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--big", type=int, default=0)
    args = parser.parse_args()
    try:
        result = scenario(args)
    except Exception as e:  # noqa: BLE001 - report anything as a failure
        print(f"wsproto client failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
