"""URL parsing and masking: pure functions, no database needed."""

from __future__ import annotations

import pytest

from railway_sync.pg.dburl import DatabaseUrlError, database_config, mask_url, scrub


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
