"""``realanalytics deploy|rollback|history``: a project's config from its YAML file, with
the diff against what is deployed, and the versions deployed so far."""

from pathlib import Path
from typing import Any

import click

from control_plane.cli.client import CliError
from control_plane.cli.context import Context, pass_context
from control_plane.cli.output import table
from control_plane.config_file import ConfigFileError, config_diff, read_config_file


@click.command()
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


@click.command()
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


@click.command()
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
