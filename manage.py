#!/usr/bin/env python
"""Run Django administrative tasks."""

import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
    from controlplane.devenv import dotenv_load

    # Development settings (see controlplane/devenv.py); the environment wins over the file.
    dotenv = Path(__file__).resolve().parent / ".env"
    loaded = dotenv_load(dotenv)
    if loaded:
        print(f"manage.py: loaded {', '.join(loaded)} from {dotenv}", file=sys.stderr)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
