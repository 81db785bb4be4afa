"""The ``realanalytics`` command: log in, manage projects, deploy configs, query, ops.

One module a command group; this one only assembles them under ``main`` (the console
script's entry point, pyproject.toml).
"""

import click

from control_plane.cli.account import confirm, login, logout, password_reset, signup, whoami
from control_plane.cli.context import Context
from control_plane.cli.deletions import delete_person
from control_plane.cli.deploys import deploy, history, rollback
from control_plane.cli.exports import export, person_events
from control_plane.cli.invitations import invitations
from control_plane.cli.projects import projects
from control_plane.cli.query import query
from control_plane.cli.streams import lag, replay


@click.group()
@click.option("--url", envvar="RA_APP_URL", help="App API URL (default: the one logged in to).")
@click.pass_context
def main(ctx: click.Context, url: str | None) -> None:
    """realanalytics: projects, config deploys, queries and stream operations."""
    ctx.obj = Context(url)


for command in (
    signup,
    confirm,
    login,
    password_reset,
    logout,
    whoami,
    projects,
    invitations,
    deploy,
    rollback,
    history,
    query,
    delete_person,
    export,
    person_events,
    lag,
    replay,
):
    main.add_command(command)
