"""``realanalytics signup|confirm|login|password-reset|logout|whoami``: the account, and
the CLI access token stored for it."""

import click

from control_plane.cli.client import (
    AppClient,
    CliError,
    Credentials,
    forget_credentials,
    save_credentials,
)
from control_plane.cli.context import Context, pass_context


def _store_access_token(context: Context, client: AppClient) -> None:
    _, created = client.request("POST", "/api/cli/tokens")  # a one-time token, then
    _, body = client.request("POST", "/api/cli/validate", {"token": created["token"]})
    path = save_credentials(Credentials(context.url, body["accessToken"]))
    click.echo(f"Logged in to {context.url} (token saved to {path})")


@click.command()
@click.option("--email", help="Log in with email and password (prompted).")
@click.option(
    "--token", help="A one-time CLI token created while logged in (POST /api/cli/tokens)."
)
@pass_context
def login(context: Context, email: str | None, token: str | None) -> None:
    """Get a CLI access token and store it (mode 0600) in the user's config dir."""
    client = AppClient(context.url)
    if email:
        password = click.prompt("Password", hide_input=True)
        client.request("POST", "/api/auth/login", {"email": email, "password": password})
        _store_access_token(context, client)
        return
    if not token:
        click.echo(f"Create a one-time CLI token while logged in at {context.url}")
        click.echo("(POST /api/cli/tokens), then paste it here.")
        token = click.prompt("One-time token", hide_input=True)
    _, body = client.request("POST", "/api/cli/validate", {"token": token})
    path = save_credentials(Credentials(context.url, body["accessToken"]))
    click.echo(f"Logged in to {context.url} (token saved to {path})")


@click.command()
@click.option("--email", required=True)
@pass_context
def signup(context: Context, email: str) -> None:
    """Create an account; a code to confirm the address is mailed to it."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    client = AppClient(context.url)
    client.request("POST", "/api/auth/signup", {"email": email, "password": password}, ok=(202,))
    click.echo(f"Check the inbox of {email}, then run: realanalytics confirm <code>")


@click.command()
@click.argument("code")
@pass_context
def confirm(context: Context, code: str) -> None:
    """Confirm the address with the mailed CODE, then log the CLI in."""
    client = AppClient(context.url)
    client.request("POST", "/api/auth/confirm", {"token": code})
    _store_access_token(context, client)


@click.command("password-reset")
@click.option("--email", help="Mail a reset code to this address.")
@click.option("--token", help="The mailed code: set a new password (prompted).")
@pass_context
def password_reset(context: Context, email: str | None, token: str | None) -> None:
    """Forgot the password: --email mails a code, --token sets a new password."""
    client = AppClient(context.url)
    if token:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        client.request(
            "POST", "/api/auth/password-reset/confirm", {"token": token, "password": password}
        )
        click.echo("Password changed: log in again (CLI tokens were revoked).")
        return
    if not email:
        raise CliError("give --email (to get a code) or --token (to use it)")
    client.request("POST", "/api/auth/password-reset", {"email": email}, ok=(202,))
    click.echo(f"If {email} has an account, a reset code is on its way.")


@click.command()
@pass_context
def logout(context: Context) -> None:
    """Revoke the stored access token and forget it."""
    if context.stored is not None:
        context.client().request("POST", "/api/cli/revoke", ok=(200, 401))
    forget_credentials()
    click.echo("Logged out")


@click.command()
@pass_context
def whoami(context: Context) -> None:
    """The account the stored access token belongs to."""
    _, body = context.client().request("GET", "/api/me")
    click.echo(f"{body['user']['email']} at {context.url}")
