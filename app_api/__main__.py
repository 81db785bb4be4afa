"""``python -m app_api``: the App API origin on RA_APP_HOST:RA_APP_PORT (default 127.0.0.1:8081)."""

from app_api.app import create_app, mounts_from_environment
from app_api.settings import load_settings
from common.serve import serve


def main() -> None:
    serve(load_settings, lambda _: create_app(mounts_from_environment()))


if __name__ == "__main__":
    main()
