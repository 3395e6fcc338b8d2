"""Django's PostgreSQL backend, on the embedded server kept in ``EMBEDDED_DATA_DIR``.

Settings only name the data folder: the server is started (or found running) when the first
connection is opened, so importing settings, ``--help`` or ``check`` start nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.backends.postgresql import base

from railway_sync.pg import embedded


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        # HOST is empty until the server is found: then it is the server's socket folder.
        if not self.settings_dict.get("HOST"):
            programs = self.settings_dict.get("EMBEDDED_PROGRAMS")
            socket_dir = embedded.ensure_server(
                Path(self.settings_dict["EMBEDDED_DATA_DIR"]), Path(programs) if programs else None
            )
            # Django connects without a name (NAME None) to create or drop test databases.
            if self.settings_dict.get("NAME"):
                embedded.ensure_database(socket_dir, self.settings_dict["NAME"])
            self.settings_dict["HOST"] = str(socket_dir)
        return super().get_connection_params()
