"""A network link in a box: a loopback TCP proxy in front of a PostgreSQL server (its Unix
socket, or a TCP address) that delays each direction and counts what crosses it.

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
delivering server data while it is set counts one round trip and clears it. Two more rules:

- **The TCP handshake is one round trip**, counted when the link accepts the connection. On
  loopback the client's ``connect()`` returns at once, but over the network it waits for the
  server's SYN-ACK; so the link reads nothing the client sends until one round-trip time (two
  delays) after accepting, then delays it as usual.
- **TLS alerts answer nothing.** The link does not decrypt TLS, but it sees where each TLS
  record starts and ends once the server has accepted an SSLRequest. A chunk from the server
  holding only alerts neither counts nor clears the flag: that is the server's close_notify
  after the client's Terminate, which the client never waits for (it sends its own and
  closes), and which, with no delay, can even arrive before the client has closed. Alerts have
  type 21 in TLS 1.2; TLS 1.3 sends them as data (type 23), where one is 19 bytes (2 of alert,
  1 of inner type, 16 of tag): a data record that size holds 2 bytes, too few to start any
  PostgreSQL message (at least 5), so it never starts an answer either.

Round trips whose answer holds a TLS handshake record are also counted apart
(``Counts.tls_round_trips``), so that connection set-up can be told apart.

So, for a client that waits for each answer before it sends again (libpq outside pipeline
mode, hence psycopg2, psycopg 3 and Django): connecting with trust authentication and
``sslmode=disable`` is 2 round trips (the TCP handshake; StartupMessage, then
AuthenticationOk .. ReadyForQuery). Connecting as to Railway, with ``sslmode=require`` and
SCRAM-SHA-256 (``benchmarks.railway``), is 7: the TCP handshake; the SSLRequest, answered
'S'; the TLS 1.3 handshake, 2 (the ClientHello's key shares are for groups a server of
PostgreSQL 17 or older does not accept by default, so it answers with a HelloRetryRequest,
then the client's second ClientHello gets ServerHello .. Finished); the StartupMessage,
sent with the client's Finished, answered by AuthenticationSASL; SASLInitialResponse,
answered by SASLContinue; and SASLResponse, answered by SASLFinal, AuthenticationOk ..
ReadyForQuery. After that, each ``execute`` is one round trip (several statements in one
``execute`` travel as one Query message and are one), a COPY FROM STDIN is two (the server's
CopyInResponse, then its answer to CopyDone), and a message nothing answers, such as
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
from urllib.parse import quote

CHUNK = 65536
QUEUE_CHUNKS = 256  # per direction: up to 16 MB in flight
# The 8-byte packet a client sends first to ask for TLS; a server that agrees answers b"S".
SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")
GSSENC_REQUEST_CODE = 80877104
TLS_HANDSHAKE, TLS_ALERT, TLS_DATA = 22, 21, 23  # TLS record content types
TLS13_ALERT_SIZE = 19  # an encrypted TLS 1.3 alert: 2 bytes, 1 of inner type, 16 of tag


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
    # Of the round trips, those of TLS handshakes: answered by a TLS handshake record.
    tls_round_trips: int = 0

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
        self.tls_round_trips = 0
        self.bytes_to_server = 0
        self.bytes_to_client = 0
        self.client_spoke_last = False
        self.directions_open = 2
        self.broken = False
        self.readable_at = 0.0  # monotonic time before which the client's bytes are not read
        self.client_head = b""  # the client's first 8 bytes: an SSLRequest?
        self.server_spoke = False  # the server has sent its first byte
        self.tls = False  # the server accepted an SSLRequest: TLS records from then on
        self.record_header = b""  # a TLS record header from the server, not yet complete
        self.record_left = 0  # bytes of the current TLS record from the server still to come
        self.record_is_alert = False
        self.record_is_handshake = False
        self.unparsed = b""  # client bytes not yet split into messages (for the trace)
        self.started = False  # the startup packet (no type byte) has gone by
        self.encrypted = False  # the client's bytes are TLS from here on (for the trace)


# What a chunk from the server can be to a client that spoke last (see _answers).
NO_ANSWER, ANSWER, TLS_HANDSHAKE_ANSWER = 0, 1, 2
# (deliver at, data, what it answers); empty data is the end of the stream
Item = tuple[float, bytes, int]


class Link:
    """Forwards ``127.0.0.1:port`` to a PostgreSQL server, ``delay`` seconds each way: to its
    Unix socket (a path) or to a TCP address (``(host, port)``), such as Railway's stand-in.

    ``delay`` may be changed at any time; it applies to data read from then on. Subclasses
    inject faults through :meth:`_admit` and :meth:`_on_client_data`.
    """

    def __init__(self, server: str | Path | tuple[str, int], delay: float = 0.0) -> None:
        self.server: str | tuple[str, int] = server if isinstance(server, tuple) else str(server)
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

    def url(
        self,
        database: str,
        user: str = "postgres",
        password: str | None = None,
        sslmode: str = "disable",
    ) -> str:
        """A libpq URL for ``database`` through the link. ``sslmode=disable`` by default, for
        a server without TLS (an SSLRequest it refused would cost a round trip of its own);
        ``sslmode="require"`` and a password for one that, like Railway, has TLS and SCRAM."""
        login = quote(user, safe="")
        if password is not None:
            login += ":" + quote(password, safe="")
        return f"postgresql://{login}@127.0.0.1:{self.port}/{database}?sslmode={sslmode}"

    def counts(self) -> Counts:
        """Totals over every connection so far; subtract two of them to measure a step."""
        with self._lock:
            return Counts(
                connections=len(self._connections),
                round_trips=sum(c.round_trips for c in self._connections),
                bytes_to_server=sum(c.bytes_to_server for c in self._connections),
                bytes_to_client=sum(c.bytes_to_client for c in self._connections),
                tls_round_trips=sum(c.tls_round_trips for c in self._connections),
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
                Counts(1, c.round_trips, c.bytes_to_server, c.bytes_to_client, c.tls_round_trips)
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
            try:
                server = self._connect_server()
            except OSError:
                client.close()
                continue
            connection = _Connection(client, server)
            # The TCP handshake: the client's connect() has returned at once on loopback, but
            # over the network it takes one round trip (SYN, then SYN-ACK) before the client
            # can send anything; so nothing it sends is read before then.
            connection.round_trips = 1
            connection.readable_at = time.monotonic() + 2 * self.delay
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

    def _connect_server(self) -> socket.socket:
        if isinstance(self.server, tuple):
            server = socket.create_connection(self.server, timeout=10)
            server.settimeout(None)
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return server
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.connect(self.server)
        except OSError:
            server.close()
            raise
        return server

    def _read(
        self,
        connection: _Connection,
        source: socket.socket,
        pending: queue.Queue[Item],
        *,
        to_server: bool,
    ) -> None:
        if to_server:
            wait = connection.readable_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        try:
            while data := source.recv(CHUNK):
                deliver_at = time.monotonic() + self.delay
                answers = ANSWER
                if to_server:
                    with self._lock:
                        connection.bytes_to_server += len(data)
                        connection.client_spoke_last = True
                        if len(connection.client_head) < len(SSL_REQUEST):
                            missing = len(SSL_REQUEST) - len(connection.client_head)
                            connection.client_head += data[:missing]
                        if self.trace is not None:
                            self._trace(connection, data)
                    if not self._on_client_data(len(data)):
                        break
                else:
                    answers = self._answers(connection, data)
                pending.put((deliver_at, data, answers))
        except OSError:
            self._break(connection)
        pending.put((time.monotonic() + self.delay, b"", NO_ANSWER))

    def _write(
        self,
        connection: _Connection,
        target: socket.socket,
        pending: queue.Queue[Item],
        *,
        to_server: bool,
    ) -> None:
        while True:
            deliver_at, data, answers = pending.get()
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
                    if connection.client_spoke_last and answers != NO_ANSWER:
                        connection.round_trips += 1
                        connection.tls_round_trips += answers == TLS_HANDSHAKE_ANSWER
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

    @staticmethod
    def _answers(connection: _Connection, data: bytes) -> int:
        """What a chunk from the server answers: nothing if it holds only TLS alerts, the TLS
        handshake if it holds a TLS handshake record, else something (whatever it is: TLS
        records are followed by their headers once the server has accepted an SSLRequest).
        Only the connection's one reader from the server calls it."""
        if not connection.server_spoke:
            connection.server_spoke = True
            if connection.client_head == SSL_REQUEST and data[:1] == b"S":
                connection.tls = True
                # TLS records from here on (none in this chunk: the server awaits the
                # ClientHello); the 'S' itself answers the SSLRequest.
                Link._answers(connection, data[1:])
                return ANSWER
        if not connection.tls:
            return ANSWER
        answers = NO_ANSWER
        at = 0
        while at < len(data):
            if connection.record_left == 0:
                piece = data[at : at + 5 - len(connection.record_header)]
                connection.record_header += piece
                at += len(piece)
                if len(connection.record_header) < 5:
                    break
                kind = connection.record_header[0]
                size = int.from_bytes(connection.record_header[3:5], "big")
                connection.record_header = b""
                connection.record_left = size
                connection.record_is_alert = kind == TLS_ALERT or (
                    kind == TLS_DATA and size == TLS13_ALERT_SIZE
                )
                connection.record_is_handshake = kind == TLS_HANDSHAKE
            else:
                piece = data[at : at + connection.record_left]
                at += len(piece)
                connection.record_left -= len(piece)
            if connection.record_is_handshake:
                answers = TLS_HANDSHAKE_ANSWER
            elif not connection.record_is_alert:
                answers = max(answers, ANSWER)
        return answers

    def _trace(self, connection: _Connection, data: bytes) -> None:
        """Record each Query/Parse (its SQL) and other message type the client sent."""
        assert self.trace is not None
        if connection.encrypted:
            return
        buffer = connection.unparsed + data
        number = self._connections.index(connection)
        while not connection.started:
            if buffer[:1] == b"\x16":  # a TLS ClientHello, after an SSLRequest
                self.trace.append((number, connection.round_trips, "<TLS, encrypted from here>"))
                connection.encrypted = True
                connection.unparsed = b""
                return
            if len(buffer) < 8:
                connection.unparsed = buffer
                return
            size = int.from_bytes(buffer[:4], "big")
            if len(buffer) < size:
                connection.unparsed = buffer
                return
            code = int.from_bytes(buffer[4:8], "big")
            if buffer[:8] == SSL_REQUEST:
                self.trace.append((number, connection.round_trips, "<SSLRequest>"))
            elif code == GSSENC_REQUEST_CODE:
                self.trace.append((number, connection.round_trips, "<GSSENCRequest>"))
            else:
                self.trace.append((number, connection.round_trips, "<startup>"))
                connection.started = True
            buffer = buffer[size:]
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
