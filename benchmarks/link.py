"""A network link in a box: a loopback TCP proxy in front of the embedded server's Unix socket
that delays each direction and counts what crosses it.

The round-trip benchmark puts it between the commands and "Railway" to stand for the internet;
the tests put it there to refuse, delay or cut connections (``tests/proxy.py``).

Round trips
-----------
The link watches each connection from the client's side: bytes read from the client (the
client sent them) and bytes delivered to the client (the client received them; counted as
they are handed over, so a connection that breaks may count a last chunk it lost). Those events
form bursts that alternate between sending and receiving. **One round trip is one switch from
a sending burst to a receiving burst**: the client sent something and then got an answer. In
code, a connection has a flag "the client spoke last"; reading client data sets it, and
delivering server data while it is set counts one round trip and clears it.

So, for a client that waits for each answer before it sends again (libpq outside pipeline
mode, hence psycopg2 and Django): connecting is one round trip (StartupMessage, then
AuthenticationOk .. ReadyForQuery) with trust authentication and ``sslmode=disable``, as
here; to Railway, the SSLRequest, the TLS handshake and SCRAM's two further steps add about
four), each ``execute`` is one (several statements
in one ``execute`` travel as one Query message and are one), a COPY FROM STDIN is two (the
server's CopyInResponse, then its answer to CopyDone), and a message nothing answers, such as
Terminate on close, is none. Each such round trip costs at least two delays of wall time, and
the count does not depend on the delay. A client that sends again before the answer has
arrived (pipelining) is counted by the switches that actually happened; its count can then
depend on timing, and a longer delay merges more.

Delays
------
Each direction of a connection is a pipeline: a reader stamps every chunk with
``read time + delay`` and queues it; a writer delivers chunks in order, each at its stamp. So
bytes are never reordered, a burst of chunks is delayed once (not once per chunk), and
connections never wait for one another. The delay is one way; the round-trip time is twice
it. Bandwidth is not modelled, only latency; a full queue stops the reader, so a fast sender
is held back as a TCP window would, instead of the link buffering a whole COPY.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

CHUNK = 65536
QUEUE_CHUNKS = 256  # per direction: up to 16 MB in flight


def server_socket(socket_dir: Path) -> Path:
    """The Unix socket of the embedded server whose socket folder is ``socket_dir``."""
    # The embedded server listens on no TCP port and keeps the default port in the name.
    return socket_dir / ".s.PGSQL.5432"


@dataclass(frozen=True)
class Counts:
    """What crossed the link: totals, or the difference between two totals."""

    connections: int = 0
    round_trips: int = 0
    bytes_to_server: int = 0
    bytes_to_client: int = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
        )


class _Connection:
    """One proxied connection: its two sockets and what crossed it."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.round_trips = 0
        self.bytes_to_server = 0
        self.bytes_to_client = 0
        self.client_spoke_last = False
        self.directions_open = 2
        self.broken = False
        self.unparsed = b""  # client bytes not yet split into messages (for the trace)
        self.started = False  # the startup packet (no type byte) has gone by


Item = tuple[float, bytes]  # (deliver at, data); empty data is the end of the stream


class Link:
    """Forwards ``127.0.0.1:port`` to a PostgreSQL Unix socket, ``delay`` seconds each way.

    ``delay`` may be changed at any time; it applies to data read from then on. Subclasses
    inject faults through :meth:`_admit` and :meth:`_on_client_data`.
    """

    def __init__(self, unix_socket: str | Path, delay: float = 0.0) -> None:
        self.unix_socket = str(unix_socket)
        self.delay = delay
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []  # every one, for the totals
        self._open: set[_Connection] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)  # so the accept loop notices close()
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        # When a list: (connection number, round trip it belongs to, what the client sent).
        self.trace: list[tuple[int, int, str]] | None = None
        self._thread = threading.Thread(target=self._accept, name="link-accept", daemon=True)
        self._thread.start()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def url(self, database: str, user: str = "postgres") -> str:
        """A libpq URL for ``database`` through the link, without TLS (the embedded server
        has none, and an SSLRequest it would refuse costs a round trip of its own)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def counts(self) -> Counts:
        """Totals over every connection so far; subtract two of them to measure a step."""
        with self._lock:
            return Counts(
                connections=len(self._connections),
                round_trips=sum(c.round_trips for c in self._connections),
                bytes_to_server=sum(c.bytes_to_server for c in self._connections),
                bytes_to_client=sum(c.bytes_to_client for c in self._connections),
            )

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every connection has closed, so the counts are final (a client's last
        words, such as Terminate, may still be on their way when it exits); False on
        timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._open:
                    return True
            time.sleep(0.01)
        return False

    def per_connection(self) -> list[Counts]:
        """One entry per connection, oldest first."""
        with self._lock:
            return [
                Counts(1, c.round_trips, c.bytes_to_server, c.bytes_to_client)
                for c in self._connections
            ]

    def _admit(self) -> bool:
        """Whether to accept a new client connection (False closes it at once)."""
        return True

    def _on_client_data(self, size: int) -> bool:
        """Called with each chunk the client sent, after counting it; False drops it and
        stops reading from the client."""
        return True

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            if not self._admit():
                client.close()
                continue
            # Without it, Nagle's algorithm would hold small answers back for the client's
            # delayed ACK: tens of milliseconds the real network would not add.
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.connect(self.unix_socket)
            except OSError:
                server.close()
                client.close()
                continue
            connection = _Connection(client, server)
            with self._lock:
                self._connections.append(connection)
                self._open.add(connection)
            for source, target, to_server in ((client, server, True), (server, client, False)):
                pending: queue.Queue[Item] = queue.Queue(QUEUE_CHUNKS)
                for work in (self._read, self._write):
                    threading.Thread(
                        target=work,
                        args=(connection, source if work == self._read else target, pending),
                        kwargs={"to_server": to_server},
                        daemon=True,
                    ).start()

    def _read(
        self,
        connection: _Connection,
        source: socket.socket,
        pending: queue.Queue[Item],
        *,
        to_server: bool,
    ) -> None:
        try:
            while data := source.recv(CHUNK):
                deliver_at = time.monotonic() + self.delay
                if to_server:
                    with self._lock:
                        connection.bytes_to_server += len(data)
                        connection.client_spoke_last = True
                        if self.trace is not None:
                            self._trace(connection, data)
                    if not self._on_client_data(len(data)):
                        break
                pending.put((deliver_at, data))
        except OSError:
            self._break(connection)
        pending.put((time.monotonic() + self.delay, b""))

    def _write(
        self,
        connection: _Connection,
        target: socket.socket,
        pending: queue.Queue[Item],
        *,
        to_server: bool,
    ) -> None:
        while True:
            deliver_at, data = pending.get()
            if connection.broken:
                if not data:
                    break
                continue  # drain, so the reader is never stuck on a full queue
            wait = deliver_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                # The source closed: pass the end of the stream on, as TCP would.
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                break
            if not to_server:
                # Counted before the client can see the data, so that its next request is
                # always recorded after this answer, and the counts are current whenever the
                # client looks.
                with self._lock:
                    connection.bytes_to_client += len(data)
                    if connection.client_spoke_last:
                        connection.round_trips += 1
                        connection.client_spoke_last = False
            try:
                target.sendall(data)
            except OSError:
                self._break(connection)
        with self._lock:
            connection.directions_open -= 1
            finished = connection.directions_open == 0
            if finished:
                self._open.discard(connection)
        if finished:
            connection.client.close()
            connection.server.close()

    def _trace(self, connection: _Connection, data: bytes) -> None:
        """Record each Query/Parse (its SQL) and other message type the client sent."""
        assert self.trace is not None
        buffer = connection.unparsed + data
        number = self._connections.index(connection)
        if not connection.started:
            if len(buffer) < 4:
                connection.unparsed = buffer
                return
            size = int.from_bytes(buffer[:4], "big")
            if len(buffer) < size:
                connection.unparsed = buffer
                return
            self.trace.append((number, connection.round_trips, "<startup>"))
            buffer = buffer[size:]
            connection.started = True
        while len(buffer) >= 5:
            kind = buffer[:1]
            size = int.from_bytes(buffer[1:5], "big")
            if len(buffer) < 1 + size:
                break
            body = buffer[5 : 1 + size]
            if kind in (b"Q", b"P"):
                text = body.split(b"\0")[1 if kind == b"P" else 0].decode(errors="replace")
                self.trace.append((number, connection.round_trips, " ".join(text.split())))
            elif kind not in (b"d",):  # COPY data is not interesting, its end is
                self.trace.append((number, connection.round_trips, f"<{kind.decode()}>"))
            buffer = buffer[1 + size :]
        connection.unparsed = buffer

    def _break(self, connection: _Connection) -> None:
        """Drop the connection in both directions; its threads wind down and close it."""
        connection.broken = True
        for end in (connection.client, connection.server):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut_all(self) -> None:
        """Drop every open connection at once, as a network outage would."""
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            self._break(connection)

    def close(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._listener.close()
        self.cut_all()
