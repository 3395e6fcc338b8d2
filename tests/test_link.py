"""The link that stands for the internet in the round-trip benchmark counts exactly and delays
at least as much as asked: real PostgreSQL through it, no mocks, both the embedded server
(trust, no TLS) and a stand-in for Railway's (TLS and SCRAM-SHA-256 over TCP). Times are lower
bounds only; the machine is shared."""

from __future__ import annotations

import hashlib
import io
import socket
import struct
import time
from collections.abc import Iterator

import pytest
from django.conf import settings

from benchmarks.link import Counts, Link, server_socket
from benchmarks.railway import USER, RailwayServer
from railway_sync.pg import driver, embedded
from tests.conftest import require_tls_postgres

PROTOCOL_3 = 196608


@pytest.fixture
def link() -> Iterator[Link]:
    with Link(server_socket(embedded.ensure_server(settings.EMBEDDED_DATA_DIR))) as link:
        yield link


@pytest.fixture(scope="module")
def railway() -> Iterator[RailwayServer]:
    require_tls_postgres()
    with RailwayServer() as server:
        yield server


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def query(sql: str) -> bytes:
    return message(b"Q", sql.encode() + b"\0")


def receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def until_ready(sock: socket.socket, answers: int = 1) -> bytes:
    """Every byte up to and including the ``answers``-th ReadyForQuery."""
    received = b""
    while answers:
        header = receive(sock, 5)
        body = receive(sock, struct.unpack("!I", header[1:])[0] - 4)
        assert header[:1] != b"E", body
        received += header + body
        answers -= header[:1] == b"Z"
    return received


def driver_connection(link: Link):
    # autocommit: no BEGIN before the first statement
    return driver.connect(dsn=link.url("postgres"), autocommit=True)


@pytest.mark.parametrize("delay", [0.0, 0.02])
def test_counts_equal_what_a_raw_client_sent_and_received(link, delay):
    link.delay = delay
    sent, received = [], []
    with socket.create_connection(("127.0.0.1", link.port)) as sock:
        startup = b"user\0postgres\0database\0postgres\0\0"
        for request, answers in (
            (struct.pack("!II", len(startup) + 8, PROTOCOL_3) + startup, 1),
            (query("SELECT 1"), 1),
            # Two queries sent before either answer: the client waits once.
            (query("SELECT 2") + query("SELECT 'three'"), 2),
        ):
            sock.sendall(request)
            sent.append(request)
            received.append(until_ready(sock, answers))
        sock.sendall(message(b"X", b""))  # Terminate: nothing answers it
        sent.append(message(b"X", b""))
        assert sock.recv(1) == b""  # the server closed after Terminate

    assert link.wait_idle()
    assert link.counts() == Counts(
        connections=1,
        round_trips=1 + 3,  # the TCP handshake, then the three requests
        bytes_to_server=sum(map(len, sent)),
        bytes_to_client=sum(map(len, received)),
    )


def test_each_execute_is_one_round_trip_and_a_multi_statement_execute_is_one(link):
    connection = driver_connection(link)
    connected = link.counts()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        one = link.counts() - connected
        for _ in range(5):
            cursor.execute("SELECT 1")
        five = link.counts() - connected - one
        cursor.execute("SELECT 1; SELECT 2; SELECT 3")
        batch = link.counts() - connected - one - five
    connection.close()
    assert link.wait_idle()

    # The TCP handshake, then StartupMessage .. ReadyForQuery (trust authentication, no TLS).
    assert connected.round_trips == 2
    assert connected.tls_round_trips == 0
    assert connected.bytes_to_server > 0 and connected.bytes_to_client > 0
    assert one == Counts(0, 1, len(query("SELECT 1")), one.bytes_to_client)
    assert one.bytes_to_client > 0
    assert five == Counts(0, 5, 5 * one.bytes_to_server, 5 * one.bytes_to_client)
    assert batch.round_trips == 1
    assert batch.bytes_to_server == len(query("SELECT 1; SELECT 2; SELECT 3"))
    assert link.per_connection() == [link.counts()]


def test_large_transfers_arrive_intact_and_are_one_burst_each_way(link):
    link.delay = 0.01
    rows = "".join(f"{i}\t{hashlib.md5(str(i).encode()).hexdigest() * 4}\n" for i in range(30000))
    connection = driver_connection(link)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copied (id int, text text)")
        before = link.counts()
        driver.copy_in(cursor, "COPY copied FROM STDIN", io.BytesIO(rows.encode()))
        copied = link.counts() - before
        cursor.execute(
            "SELECT md5(string_agg(id || E'\\t' || text || E'\\n', '' ORDER BY id)) FROM copied"
        )
        (digest,) = cursor.fetchone()
        before = link.counts()
        cursor.execute(
            "SELECT string_agg(md5(g::text), '' ORDER BY g) FROM generate_series(1, 100000) g"
        )
        (text,) = cursor.fetchone()
        selected = link.counts() - before
    connection.close()

    # CopyInResponse, then the answer to CopyDone; the 4 MB between is one burst.
    assert copied.round_trips == 2
    assert copied.bytes_to_server > len(rows)
    assert digest == hashlib.md5(rows.encode()).hexdigest()  # in order, nothing lost
    # A 3 MB answer arrives in many chunks, after one request.
    assert selected.round_trips == 1
    assert selected.bytes_to_client > len(text)
    assert text == "".join(hashlib.md5(str(g).encode()).hexdigest() for g in range(1, 100001))


def test_a_delay_makes_every_round_trip_take_at_least_twice_as_long(link):
    link.delay = 0.05
    started = time.monotonic()
    connection = driver_connection(link)
    connect_seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute("SELECT 1")
        one_seconds = time.monotonic() - started
        started = time.monotonic()
        for _ in range(3):
            cursor.execute("SELECT 1")
        three_seconds = time.monotonic() - started
    connection.close()

    assert connect_seconds >= 2 * 2 * 0.05  # the TCP handshake, then the startup
    assert one_seconds >= 2 * 0.05
    assert three_seconds >= 3 * 2 * 0.05


# Connecting as to Railway, measured: each of these is one wait for an answer.
RAILWAY_SET_UP = (
    1  # the TCP handshake (SYN, SYN-ACK), which the link models on accept
    + 1  # SSLRequest, answered 'S'
    # The TLS 1.3 handshake: libpq's ClientHello (OpenSSL 3.5: key shares for X25519MLKEM768
    # and X25519) is answered by a HelloRetryRequest, since the server accepts only
    # prime256v1 (PostgreSQL's default up to 17); the second ClientHello then gets
    # ServerHello .. Finished. The client's Finished needs no answer: it goes with the next.
    + 2
    + 1  # StartupMessage (after the client's Finished), answered by AuthenticationSASL
    + 1  # SASLInitialResponse (SCRAM's client-first), answered by SASLContinue
    + 1  # SASLResponse (client-final), answered by SASLFinal, AuthenticationOk .. ReadyForQuery
)


@pytest.mark.parametrize("delay", [0.0, 0.02])
def test_connecting_as_to_railway_counts_tcp_tls_and_scram_and_a_query_one(railway, delay):
    with Link(railway.address, delay) as link:
        link.trace = []
        url = link.url("postgres", USER, railway.password, sslmode="require")
        for _ in range(3):  # the same every time: nothing here depends on timing
            before = link.counts()
            # autocommit: no BEGIN before the first statement
            connection = driver.connect(dsn=url, autocommit=True)
            connected = link.counts() - before
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                assert cursor.fetchone() == (1,)
            queried = link.counts() - before - connected
            connection.close()
            assert link.wait_idle()
            closed = link.counts() - before - connected - queried

            assert connected.connections == 1
            assert connected.round_trips == RAILWAY_SET_UP == 7
            assert connected.tls_round_trips == 2
            assert queried.round_trips == 1
            assert queried.tls_round_trips == 0
            # Terminate is answered by nothing but the server's TLS close_notify, which the
            # client does not wait for: closing is no round trip, even with no delay, where
            # that alert can come back before the client has closed.
            assert closed.round_trips == 0
            assert closed.bytes_to_server > 0  # Terminate

    # What the link could see of the first connection: the rest is encrypted.
    assert link.trace[:2] == [(0, 1, "<SSLRequest>"), (0, 2, "<TLS, encrypted from here>")]


def test_railway_stand_in_refuses_what_railway_refuses(railway):
    with Link(railway.address) as link:
        with pytest.raises(driver.OperationalError, match="no encryption"):
            driver.connect(dsn=link.url("postgres", USER, railway.password, sslmode="disable"))
        with pytest.raises(driver.OperationalError, match="password authentication failed"):
            driver.connect(dsn=link.url("postgres", USER, "not-the-password", sslmode="require"))
