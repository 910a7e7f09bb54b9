"""Interop peer: a server on Python's h2 + wsproto's post-handshake
Connection, accepting WebSockets over HTTP/2 extended CONNECT (RFC 8441);
cleartext HTTP/2 (prior knowledge), a thread per connection, one WebSocket
stream per connection (further streams are refused with REFUSED_STREAM).
Follows the server contract in README.md. Usage:
    /usr/bin/python3 h2_server.py --port 0 [--no-deflate]
"""
import socket
import sys

import h2.errors
import h2.events
from wsproto.connection import Connection, ConnectionType
from wsproto.extensions import PerMessageDeflate
from wsproto.handshake import server_extensions_handshake

from h2_peer import H2Link, H2StreamSocket, new_connection
from wsproto_peer import Closed, Peer
from wsproto_server import run_server, serve_messages


def header_dict(headers):
    out = {}
    for k, v in headers:
        k = k.decode() if isinstance(k, bytes) else k
        v = v.decode() if isinstance(v, bytes) else v
        out.setdefault(k, []).append(v)
    return out


def serve_one(sock: socket.socket, deflate: bool):
    link = H2Link(sock, new_connection(client_side=False))
    stream = None
    try:
        link.flush()
        request = link.wait_for(lambda ev: isinstance(ev, h2.events.RequestReceived), "a request")
        sid = request.stream_id
        fields = header_dict(request.headers)
        # RFC 8441 §4: a WebSocket is CONNECT with :protocol websocket.
        if fields.get(":method") != ["CONNECT"] or fields.get(":protocol") != ["websocket"]:
            link.conn.send_headers(sid, [(":status", "400")], end_stream=True)
            link.flush()
            return
        stream = H2StreamSocket(link, sid)
        offered = [p.strip() for v in fields.get("sec-websocket-protocol", []) for p in v.split(",")]
        protocol = offered[0] if offered else None
        extensions = [PerMessageDeflate()] if deflate else []
        requested = fields.get("sec-websocket-extensions", [])
        accepted = server_extensions_handshake(requested, extensions) if requested else None
        negotiated_exts = [e for e in extensions if e.enabled()]
        response = [(":status", "200")]
        if protocol:
            response.append(("sec-websocket-protocol", protocol))
        if accepted:
            response.append(("sec-websocket-extensions", accepted.decode() if isinstance(accepted, bytes) else accepted))
        link.conn.send_headers(sid, response)
        link.flush()
        # Refuse any further stream on this connection.
        link.unclaimed = [ev for ev in link.unclaimed if not isinstance(ev, h2.events.RequestReceived)]
        peer = Peer(stream, Connection(ConnectionType.SERVER, extensions=negotiated_exts))
        serve_messages(peer, protocol, ", ".join(e.name for e in negotiated_exts))
    except Closed:
        pass
    except Exception as e:  # noqa: BLE001 - a peer failure is logged, not fatal
        print(f"h2 server connection error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        if stream is not None:
            stream.close()
        else:
            sock.close()


if __name__ == "__main__":
    run_server(serve_one)
