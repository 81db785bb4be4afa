"""``python -m query_api``: serve the query API alone on RA_QUERY_HOST:RA_QUERY_PORT (8082).

The App API origin (``python -m app_api``) mounts it beside the control plane instead.
"""

from common.serve import serve
from query_api.app import create_standalone_app
from query_api.settings import load_settings


def main() -> None:
    serve(load_settings, create_standalone_app)


if __name__ == "__main__":
    main()
