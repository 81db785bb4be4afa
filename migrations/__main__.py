"""``python -m migrations [--schema NAME]``: apply pending migrations to RA_DATABASE_URL and
to every shard database in RA_SHARD_DATABASES (contracts/shards.py)."""

import argparse
import logging
import sys

from common.settings import environment
from contracts.shards import parse_shard_databases
from migrations.runner import apply_migrations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realanalytics-migrate", description=__doc__)
    parser.add_argument("--schema", help="apply into this schema (created if missing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    env = environment()
    shards = parse_shard_databases(env.str("RA_SHARD_DATABASES", ""), env.str("RA_DATABASE_URL"))
    for name, url in shards.items():
        applied = apply_migrations(url, schema=args.schema)
        where = f" to shard {name}" if len(shards) > 1 else ""
        print(
            f"applied {len(applied)} migration(s){where}"
            + (": " + ", ".join(applied) if applied else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
