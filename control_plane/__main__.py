"""``python -m control_plane``: serve the control plane alone on RA_APP_HOST:RA_APP_PORT, or
manage operators: ``python -m control_plane operators grant|revoke|list [EMAIL]``.

The App API origin (``python -m app_api``) is the usual way to serve it, beside the query
API. The operators commands run on the server, with the database's credentials
(``RA_DATABASE_URL``): being able to run them is what makes someone allowed to.
"""

import click
import psycopg

from common.serve import serve
from common.settings import environment
from control_plane import operators as roles
from control_plane.app import create_standalone_app
from control_plane.settings import load_settings


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Serve the control plane (no command), or manage operators."""
    if ctx.invoked_subcommand is None:
        serve(load_settings, create_standalone_app)


@main.group()
def operators() -> None:
    """Operators change plans and limits and read the ops view."""


def _connect() -> psycopg.Connection:
    return psycopg.connect(environment().str("RA_DATABASE_URL"), autocommit=True)


@operators.command()
@click.argument("email")
def grant(email: str) -> None:
    """Make the account with EMAIL an operator."""
    with _connect() as conn:
        try:
            changed = roles.grant(conn, email)
        except roles.NoSuchUser as exc:
            raise click.ClickException(f"no account with the email {email}") from exc
    click.echo(f"{email} is {'now' if changed else 'already'} an operator")


@operators.command()
@click.argument("email")
def revoke(email: str) -> None:
    """Take the operator role from the account with EMAIL."""
    with _connect() as conn:
        try:
            changed = roles.revoke(conn, email)
        except roles.NoSuchUser as exc:
            raise click.ClickException(f"no account with the email {email}") from exc
    click.echo(f"{email} is {'no longer' if changed else 'not'} an operator")


@operators.command("list")
def list_() -> None:
    """Every operator and when they were granted the role."""
    with _connect() as conn:
        for email, granted_at in roles.list_operators(conn):
            click.echo(f"{email}\t{granted_at.isoformat()}")


if __name__ == "__main__":
    main()
