"""``python -m migrations [--schema NAME]``: apply pending migrations to RA_DATABASE_URL."""

import argparse
import logging
import sys

from environs import Env

from migrations.runner import apply_migrations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realanalytics-migrate", description=__doc__)
    parser.add_argument("--schema", help="apply into this schema (created if missing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    env = Env()
    env.read_env(".local/services.env", recurse=False)
    applied = apply_migrations(env.str("RA_DATABASE_URL"), schema=args.schema)
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
