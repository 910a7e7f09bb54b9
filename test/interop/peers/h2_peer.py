"""Shared glue for the RFC 8441 interop peers: one HTTP/2 stream of a
Python `h2` connection as the blocking "socket" (`sendall`, `recv`, `close`)
that wsproto_peer.Peer drives, with wsproto's post-handshake `Connection`
on top (the recipe of wsproto's HTTP/2 documentation).

Flow control: `sendall` sends no more than the stream's and the connection's
windows allow and otherwise reads (and processes) the socket until a
WINDOW_UPDATE opens them; received DATA is acknowledged as it is read.
"""
import h2.config
import h2.connection
import h2.events
import h2.settings


def new_connection(client_side):
    config = h2.config.H2Configuration(client_side=client_side, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    if not client_side:
        # RFC 8441 §3: the server allows extended CONNECT in its first SETTINGS.
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1},
        )
    conn.initiate_connection()
    return conn


class H2Link:
    """An h2 connection over a blocking socket: read, process, flush."""

    def __init__(self, sock, conn):
        self.sock = sock
        self.conn = conn
        self.eof = False
        self.streams = {}  # stream id -> H2StreamSocket
        self.unclaimed = []  # events (but DATA) not yet looked at by wait_for

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self):
        """Read once from the socket and dispatch the events it completes."""
        data = self.sock.recv(262144)
        if not data:
            self.eof = True
            for s in self.streams.values():
                s.ended = True
            return []
        events = self.conn.receive_data(data)
        for ev in events:
            sid = getattr(ev, "stream_id", None)
            stream = self.streams.get(sid)
            if isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if stream is not None:
                    stream.inbuf.append(ev.data)
            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                if stream is not None:
                    stream.ended = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.eof = True
                for s in self.streams.values():
                    s.ended = True
            if not isinstance(ev, (h2.events.DataReceived, h2.events.WindowUpdated)):
                self.unclaimed.append(ev)
        self.flush()
        return events

    def wait_for(self, predicate, what):
        """Pump until an unclaimed event satisfies `predicate`; returns it."""
        while True:
            for i, ev in enumerate(self.unclaimed):
                if predicate(ev):
                    return self.unclaimed.pop(i)
            if self.eof:
                raise ConnectionError(f"connection closed while waiting for {what}")
            self.pump()


class H2StreamSocket:
    """One HTTP/2 stream as a blocking byte socket."""

    def __init__(self, link, stream_id):
        self.link = link
        self.sid = stream_id
        self.inbuf = []
        self.ended = False
        link.streams[stream_id] = self

    def sendall(self, data):
        conn = self.link.conn
        view = memoryview(bytes(data))
        while len(view):
            if self.ended:
                raise ConnectionError("stream closed while sending")
            window = min(conn.local_flow_control_window(self.sid), conn.max_outbound_frame_size)
            if window <= 0:
                self.link.pump()  # wait for WINDOW_UPDATE
                continue
            conn.send_data(self.sid, bytes(view[:window]))
            view = view[window:]
            self.link.flush()

    def recv(self, _n):
        while not self.inbuf:
            if self.ended:
                return b""
            self.link.pump()
        return self.inbuf.pop(0)

    def close(self):
        """RFC 8441 §6: END_STREAM is the WebSocket's TCP close; then the connection goes."""
        try:
            self.link.conn.end_stream(self.sid)
            self.link.flush()
            self.link.conn.close_connection()
            self.link.flush()
        except Exception:  # noqa: BLE001 - the stream or connection may be gone already
            pass
        self.link.sock.close()


def offer_header(extensions):
    """The Sec-WebSocket-Extensions value offering `extensions` (as wsproto's handshake builds it)."""
    offers = []
    for ext in extensions:
        offer = ext.offer()
        if offer is True or offer == "":
            offers.append(ext.name)
        elif offer:
            offers.append(f"{ext.name}; {offer}")
    return ", ".join(offers)
