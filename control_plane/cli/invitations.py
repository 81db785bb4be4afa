"""``realanalytics invitations accept CODE``: join a project you were invited to."""

import click

from control_plane.cli.context import Context, pass_context


@click.group()
def invitations() -> None:
    """Invitations to projects."""


@invitations.command("accept")
@click.argument("code")
@pass_context
def invitations_accept(context: Context, code: str) -> None:
    """Accept the mailed invitation CODE (logged in with the invited address)."""
    _, body = context.client().request("POST", "/api/invitations/accept", {"token": code})
    project = body["project"]
    click.echo(f"You are now {project['role']} of {project['slug']}")
