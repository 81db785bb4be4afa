"""What every CLI command gets: the App API URL and the stored access token."""

import click

from control_plane.cli.client import DEFAULT_URL, AppClient, CliError, load_credentials


class Context:
    def __init__(self, url: str | None) -> None:
        self.stored = load_credentials()
        self.url = url or (self.stored.url if self.stored else DEFAULT_URL)

    def client(self) -> AppClient:
        """A client with the stored CLI access token (``realanalytics login`` first)."""
        if self.stored is None:
            raise CliError("not logged in: run `realanalytics login`")
        return AppClient(self.url, self.stored.access_token)


pass_context = click.make_pass_decorator(Context)
