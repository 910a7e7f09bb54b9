"""Interop peer: the client scenario (README.md) on Python's h2 + wsproto's
post-handshake Connection, over HTTP/2 extended CONNECT (RFC 8441).

Usage:
    /usr/bin/python3 h2_client.py URL [--deflate] [--big BYTES]
"""
import socket
from urllib.parse import urlparse

import h2.events
from wsproto.connection import Connection, ConnectionType
from wsproto.extensions import PerMessageDeflate
from wsproto.handshake import client_extensions_handshake

import wsproto_client
from h2_peer import H2Link, H2StreamSocket, new_connection, offer_header
from wsproto_peer import Peer


def h2_connect(url, deflate):
    u = urlparse(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    link = H2Link(sock, new_connection(client_side=True))
    link.flush()
    # RFC 8441 §3: extended CONNECT only once the server's SETTINGS allow it.
    link.wait_for(lambda ev: isinstance(ev, h2.events.RemoteSettingsChanged), "the server's SETTINGS")
    if link.conn.remote_settings.enable_connect_protocol != 1:
        raise AssertionError("the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL")
    sid = link.conn.get_next_available_stream_id()
    extensions = [PerMessageDeflate()] if deflate else []
    headers = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", u.path or "/"),
        (":authority", f"{u.hostname}:{u.port}"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat, superchat"),
    ]
    if extensions:
        headers.append(("sec-websocket-extensions", offer_header(extensions)))
    stream = H2StreamSocket(link, sid)
    link.conn.send_headers(sid, headers)
    link.flush()
    response = link.wait_for(
        lambda ev: isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid, "the response"
    )
    fields = [(k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v) for k, v in response.headers]
    status = dict(fields).get(":status")
    if status != "200":
        raise AssertionError(f"rejected with {status}")
    accepted = [v for k, v in fields if k == "sec-websocket-extensions"]
    negotiated = client_extensions_handshake(accepted, extensions)
    protocol = dict(fields).get("sec-websocket-protocol")
    peer = Peer(stream, Connection(ConnectionType.CLIENT, extensions=negotiated))
    return peer, protocol, ", ".join(e.name for e in negotiated)


# The scenario is wsproto_client's, over HTTP/2 streams instead of TCP.
wsproto_client.connect = h2_connect

if __name__ == "__main__":
    wsproto_client.main()
