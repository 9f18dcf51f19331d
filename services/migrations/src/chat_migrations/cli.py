"""``chat-migrate``: apply or inspect the schema migrations.

The database comes from ``CHAT_DATABASE_URL`` (a ``postgresql://`` URL, as the services use).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from chat_migrations.urls import DEFAULT_DATABASE_URL, sqlalchemy_url

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # '%' would be read as interpolation by ConfigParser; a password may contain one.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chat-migrate", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="apply migrations up to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", help="revert migrations down to a revision")
    down.add_argument("revision")
    sub.add_parser("current", help="show the revision the database is at")
    sub.add_parser("history", help="list every migration")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    config = alembic_config(os.environ.get("CHAT_DATABASE_URL", DEFAULT_DATABASE_URL))
    if args.action == "upgrade":
        command.upgrade(config, args.revision)
    elif args.action == "downgrade":
        command.downgrade(config, args.revision)
    elif args.action == "current":
        command.current(config, verbose=True)
    else:
        command.history(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
