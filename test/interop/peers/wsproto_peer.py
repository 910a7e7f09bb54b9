"""Shared blocking-socket glue around Python's wsproto 1.2 for the interop peers."""
import socket

from wsproto import WSConnection
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    TextMessage,
)


class Closed(Exception):
    """The connection closed; `code` and `reason` are the peer's."""

    def __init__(self, code, reason):
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


class Peer:
    """One wsproto connection over one blocking socket."""

    def __init__(self, sock: socket.socket, ws: WSConnection):
        self.sock = sock
        self.ws = ws
        self.pongs = []
        self.on_pong = None

    def send(self, event):
        data = self.ws.send(event)
        if data:
            self.sock.sendall(data)

    def events(self):
        while True:
            for event in self.ws.events():
                yield event
            data = self.sock.recv(262144)
            self.ws.receive_data(data or None)

    def recv_message(self):
        """The next whole message as (data, number of frames); answers pings,
        records pongs, raises Closed after answering a close."""
        parts = []
        frames = 0
        for event in self.events():
            if isinstance(event, Ping):
                self.send(event.response())
            elif isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
                if self.on_pong:
                    self.on_pong(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                try:
                    self.send(event.response())
                except Exception:  # noqa: BLE001 - already closing locally
                    pass
                raise Closed(event.code, event.reason)
            elif isinstance(event, (TextMessage, BytesMessage)):
                parts.append(event.data)
                if event.frame_finished:
                    frames += 1
                if event.message_finished:
                    if isinstance(event, TextMessage):
                        return "".join(parts), frames
                    return b"".join(parts), frames

    def wait_close(self):
        """Read until the peer's close frame; returns (code, reason)."""
        for event in self.events():
            if isinstance(event, CloseConnection):
                return event.code, event.reason
            if isinstance(event, Ping):
                self.send(event.response())


def send_fragmented(peer: Peer, data, pieces=3):
    """Send `data` as one message split into `pieces` frames."""
    n = len(data)
    cuts = [n * i // pieces for i in range(pieces + 1)]
    for i in range(pieces):
        peer.send(Message(data=data[cuts[i] : cuts[i + 1]], message_finished=i == pieces - 1))
