"""Interop peer: a server on Python's wsproto 1.2 (blocking sockets, a thread
per connection). Follows the server contract in README.md. Usage:
    /usr/bin/python3 wsproto_server.py --port 0 [--no-deflate]
"""
import argparse
import json
import signal
import socket
import sys
import threading

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Message, Ping, Request
from wsproto.extensions import PerMessageDeflate

from wsproto_peer import Closed, Peer, send_fragmented


def serve_messages(peer: Peer, protocol, negotiated):
    """The server contract (README.md) on an open connection, until it closes."""
    while True:
        data, _frames = peer.recv_message()
        if isinstance(data, str):
            if data == "info":
                peer.send(Message(data=json.dumps({"protocol": protocol, "extensions": negotiated})))
                continue
            if data.startswith("frag:"):
                send_fragmented(peer, data)
                continue
            if data.startswith("ping:"):
                payload = data[5:].encode()
                peer.on_pong = lambda got, p=payload: got == p and peer.send(
                    Message(data="pong:" + p.decode())
                )
                peer.send(Ping(payload=payload))
                continue
            if data.startswith("close:"):
                _, code, reason = data.split(":", 2)
                peer.send(CloseConnection(code=int(code), reason=reason))
                peer.wait_close()
                return
        peer.send(Message(data=data))


def serve_one(sock: socket.socket, deflate: bool):
    peer = Peer(sock, WSConnection(ConnectionType.SERVER))
    try:
        request = None
        for event in peer.events():
            if isinstance(event, Request):
                request = event
                break
        protocol = request.subprotocols[0] if request.subprotocols else None
        offered = any(e.split(";")[0].strip() == "permessage-deflate" for e in request.extensions)
        extensions = [PerMessageDeflate()] if deflate and offered else []
        peer.send(AcceptConnection(subprotocol=protocol, extensions=extensions))
        negotiated = ", ".join(e.name for e in extensions if e.enabled())
        serve_messages(peer, protocol, negotiated)
    except Closed:
        pass
    except Exception as e:  # noqa: BLE001 - a peer failure is logged, not fatal
        print(f"wsproto server connection error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        sock.close()


def run_server(serve):
    """Listen (--port, --host), print the URL, and serve each connection in a thread: serve(sock, deflate)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-deflate", action="store_true")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(16)
    port = listener.getsockname()[1]
    print(f"listening on ws://{args.host}:{port}/", flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve, args=(sock, not args.no_deflate), daemon=True).start()


if __name__ == "__main__":
    run_server(serve_one)
