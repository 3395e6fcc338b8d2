#!/usr/bin/env python
"""Django's command-line utility for the railway_sync project."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad environment variable is a one-line fix, not a traceback.
        sys.stderr.write(f"❌ {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
