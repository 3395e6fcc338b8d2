"""URL parsing and masking: pure functions, no database needed."""

from __future__ import annotations

import pytest

from railway_sync.dburl import DatabaseUrlError, database_config, mask_url, scrub, url_password


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://user:secret@host:5432/db", "postgresql://user:***@host:5432/db"),
        ("postgresql://u:p@ss/w@rd@host/db", "postgresql://u:***@host/db"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("postgresql://host/db", "postgresql://host/db"),
        ("user:secret@host/db", "user:***@host/db"),
    ],
)
def test_mask_url_hides_the_whole_password(url, masked):
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("text", "secret", "scrubbed"),
    [
        (
            "failed for postgresql://bob:hunter2@h/db",
            "hunter2",
            "failed for postgresql://bob:***@h/db",
        ),
        ("postgresql://bob:p@ss/w@rd@h/db", "p@ss/w@rd", "postgresql://bob:***@h/db"),
        (
            "invalid dsn: user=bob password=hunter2 host=h",
            None,
            "invalid dsn: user=bob password=*** host=h",
        ),
        ("dsn password = 'it\\'s a secret' host=h", None, "dsn password = *** host=h"),
        (
            'connection to server at "127.0.0.1", port 1 failed: Connection refused',
            "a",
            'connection to server at "127.0.0.1", port 1 failed: Connection refused',
        ),
        (
            'FATAL:  password authentication failed for user "password"',
            "password",
            'FATAL:  password authentication failed for user "password"',
        ),
    ],
    ids=["url", "url-with-at-and-slash", "dsn", "dsn-quoted", "short", "word"],
)
def test_scrub_masks_passwords_only_where_they_stand(text, secret, scrubbed):
    assert scrub(text, secret) == scrubbed


def test_remote_hosts_get_sslmode_require_unless_the_url_says_otherwise():
    remote = database_config("postgresql://u:p@db.railway.app:5432/railway", variable="X")
    explicit = database_config(
        "postgresql://u:p@db.railway.app/railway?sslmode=disable", variable="X"
    )
    local = database_config("postgresql://u:p@localhost/db", variable="X", connect_timeout=7)

    keepalives = {
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
    assert remote["OPTIONS"] == {"connect_timeout": 30, "sslmode": "require", **keepalives}
    assert explicit["OPTIONS"] == {"connect_timeout": 30, "sslmode": "disable", **keepalives}
    assert local["OPTIONS"] == {"connect_timeout": 7, **keepalives}
    assert (remote["HOST"], remote["PORT"], remote["NAME"]) == ("db.railway.app", 5432, "railway")


def test_parse_errors_never_contain_the_password():
    with pytest.raises(DatabaseUrlError) as error:
        database_config("postgresql://u:topsecret@h:port/db", variable="RAILWAY_DATABASE_URL")
    assert "topsecret" not in str(error.value)
    assert str(error.value).startswith("RAILWAY_DATABASE_URL is malformed")


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql://bob:hunter2@h/db", "hunter2"),
        (" postgresql://bob:hunter2@h:5432/db ", "hunter2"),
        ("postgresql://bob@h/db", None),
        ("postgresql://bob:@h/db", None),
        ("postgresql://h/db", None),
        # A port urlsplit cannot read: the password is still found for scrubbing.
        ("postgresql://bob:hunter2@h:port/db", "hunter2"),
    ],
)
def test_url_password_finds_the_password_to_scrub(url, password):
    assert url_password(url) == password


@pytest.mark.parametrize(
    ("url", "variable", "message"),
    [
        (
            "bob:secret@h/db",
            "DATABASE_URL",
            "DATABASE_URL is not a database URL (it has no postgresql:// prefix). Use the form "
            "postgresql://user:password@host:5432/dbname.",
        ),
        (
            "mysql://bob:secret@h/db",
            "RAILWAY_DATABASE_URL",
            "RAILWAY_DATABASE_URL must be a PostgreSQL URL (postgresql://...), not mysql://. "
            "Copy the PostgreSQL connection URL from the Railway dashboard.",
        ),
        (
            "sqlite:///db.sqlite3",
            "DATABASE_URL",
            "DATABASE_URL must be a PostgreSQL URL (postgresql://...), not sqlite://. Point it "
            "at the local PostgreSQL database.",
        ),
        (
            "postgresql://bob:secret@h:5432",
            "RAILWAY_DATABASE_URL",
            "RAILWAY_DATABASE_URL names no database (postgresql://bob:***@h:5432). Add the "
            "database name after the host: postgresql://user:password@host:5432/dbname.",
        ),
    ],
    ids=["no-scheme", "mysql-railway", "sqlite-local", "no-database"],
)
def test_an_unusable_url_is_named_with_its_fix_and_no_password(url, variable, message):
    with pytest.raises(DatabaseUrlError) as error:
        database_config(url, variable=variable)

    assert str(error.value) == message


def test_a_socket_folder_host_keeps_its_sslmode_unset():
    config = database_config("postgresql://postgres@%2Ftmp%2Fpg/railway", variable="X")

    assert (config["HOST"], config["NAME"]) == ("/tmp/pg", "railway")
    assert "sslmode" not in config["OPTIONS"]
