"""The ``realanalytics`` command: log in, manage projects, deploy configs, query, ops."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from control_plane.cli_client import (
    AppClient,
    CliError,
    Credentials,
    forget_credentials,
    save_credentials,
)
from control_plane.cli_context import Context, pass_context
from control_plane.cli_deletions import delete_person
from control_plane.cli_exports import export, person_events
from control_plane.cli_invitations import invitations
from control_plane.cli_output import query_table, table
from control_plane.cli_projects import projects
from control_plane.config_file import ConfigFileError, config_diff, read_config_file


@click.group()
@click.option("--url", envvar="RA_APP_URL", help="App API URL (default: the one logged in to).")
@click.pass_context
def main(ctx: click.Context, url: str | None) -> None:
    """realanalytics: projects, config deploys, queries and stream operations."""
    ctx.obj = Context(url)


main.add_command(projects)
main.add_command(invitations)
main.add_command(delete_person)
main.add_command(export)
main.add_command(person_events)


def _store_access_token(context: Context, client: AppClient) -> None:
    _, created = client.request("POST", "/api/cli/tokens")  # a one-time token, then
    _, body = client.request("POST", "/api/cli/validate", {"token": created["token"]})
    path = save_credentials(Credentials(context.url, body["accessToken"]))
    click.echo(f"Logged in to {context.url} (token saved to {path})")


@main.command()
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


@main.command()
@click.option("--email", required=True)
@pass_context
def signup(context: Context, email: str) -> None:
    """Create an account; a code to confirm the address is mailed to it."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    client = AppClient(context.url)
    client.request("POST", "/api/auth/signup", {"email": email, "password": password}, ok=(202,))
    click.echo(f"Check the inbox of {email}, then run: realanalytics confirm <code>")


@main.command()
@click.argument("code")
@pass_context
def confirm(context: Context, code: str) -> None:
    """Confirm the address with the mailed CODE, then log the CLI in."""
    client = AppClient(context.url)
    client.request("POST", "/api/auth/confirm", {"token": code})
    _store_access_token(context, client)


@main.command("password-reset")
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


@main.command()
@pass_context
def logout(context: Context) -> None:
    """Revoke the stored access token and forget it."""
    if context.stored is not None:
        context.client().request("POST", "/api/cli/revoke", ok=(200, 401))
    forget_credentials()
    click.echo("Logged out")


@main.command()
@pass_context
def whoami(context: Context) -> None:
    """The account the stored access token belongs to."""
    _, body = context.client().request("GET", "/api/me")
    click.echo(f"{body['user']['email']} at {context.url}")


@main.command()
@click.argument("file", type=click.Path(path_type=Path), default="realanalytics.yaml")
@click.option("--project", help="Slug or id (default: `project:` in the file).")
@click.option("--secret-key", envvar="RA_SECRET_KEY", help="The project's secret key.")
@click.option("--dry-run", is_flag=True, help="Validate and show the diff only.")
@pass_context
def deploy(
    context: Context, file: Path, project: str | None, secret_key: str | None, dry_run: bool
) -> None:
    """Compile FILE to the JSON config, validate it, show the diff, deploy it."""
    try:
        named, config = read_config_file(file)
    except ConfigFileError as exc:
        raise CliError(f"{file}: {exc}") from exc
    ref = project or named
    if not ref:
        raise CliError(f"{file}: no project (add `project: <slug>` or pass --project)")
    client = context.client()
    status, current = client.request("GET", f"/api/projects/{ref}/config", ok=(200, 404))
    deployed = current["config"] if status == 200 else None
    label = f"{file}"
    diff = config_diff(deployed, config, label)
    version = f"version {current['version']}" if status == 200 else "nothing deployed yet"
    if not diff:
        click.echo(f"No changes against {version} of {ref}.")
        return
    click.echo(f"Changes against {version} of {ref}:")
    click.echo(diff, nl=False)
    if dry_run:
        return
    if not secret_key:
        secret_key = click.prompt("Secret key", hide_input=True)
    _, body = client.request(
        "POST",
        "/api/deploy",
        {"projectId": ref, "config": config},
        headers={"X-Secret-Key": secret_key},
    )
    click.echo(f"Deployed version {body['version']} of {body['slug']}.")


@main.command()
@click.argument("version", type=int)
@click.option("--project", required=True, help="Slug or id.")
@click.option("--secret-key", envvar="RA_SECRET_KEY", help="The project's secret key.")
@pass_context
def rollback(context: Context, version: int, project: str, secret_key: str | None) -> None:
    """Deploy VERSION's config again, as a new version."""
    if not secret_key:
        secret_key = click.prompt("Secret key", hide_input=True)
    _, body = context.client().request(
        "POST",
        "/api/deploy/rollback",
        {"projectId": project, "version": version},
        headers={"X-Secret-Key": secret_key},
    )
    click.echo(f"Deployed version {body['version']} of {body['slug']} (the config of {version}).")


@main.command()
@click.argument("project")
@pass_context
def history(context: Context, project: str) -> None:
    """The project's deployed config versions, newest first."""
    _, body = context.client().request("GET", f"/api/projects/{project}/configs")
    rows = [
        (v["version"], _status(v), v["createdAt"], v["deployedBy"], v["rolledBackFrom"])
        for v in body["versions"]
    ]
    click.echo(table(["version", "status", "deployed at", "by", "rollback of"], rows))


def _status(version: dict[str, Any]) -> str:
    """Published, pending, or failed with Kafka's reason (the version was never applied)."""
    status = str(version.get("status") or "")
    error = version.get("publishError")
    return f"{status}: {error}" if error else status


@main.command()
@click.argument("query_file", type=click.File("r"), default="-")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@pass_context
def query(context: Context, query_file: Any, as_json: bool) -> None:
    """Run a query (JSON or YAML, from QUERY_FILE or stdin) and print a table."""
    try:
        document = yaml.safe_load(query_file.read())
    except yaml.YAMLError as exc:
        raise CliError(f"the query is not valid JSON or YAML: {exc}") from exc
    _, answer = context.client().request("POST", "/api/query", document)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    try:
        click.echo(query_table(answer))
    except (KeyError, TypeError, ValueError):
        click.echo(json.dumps(answer, indent=2))


def _stream_workers(command: str, args: tuple[str, ...]) -> None:
    if importlib.util.find_spec("stream_workers") is None:
        raise CliError(f"`{command}` needs the stream workers (package stream_workers not found)")
    result = subprocess.run(  # noqa: S603 - our own module, arguments passed through
        [sys.executable, "-m", "stream_workers", command, *args], env=os.environ.copy()
    )
    if result.returncode != 0:
        sys.exit(result.returncode)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def lag(args: tuple[str, ...]) -> None:
    """Stream lag per partition (python -m stream_workers lag)."""
    _stream_workers("lag", args)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def replay(args: tuple[str, ...]) -> None:
    """Replay the log to rebuild projections (python -m stream_workers replay)."""
    _stream_workers("replay", args)


if __name__ == "__main__":
    main()
