"""``realanalytics delete-person``: delete persons' events everywhere (issue 17)."""

import time

import click

from contracts.erasure import MAX_DISTINCT_IDS
from control_plane.cli.client import CliError
from control_plane.cli.context import Context, pass_context


@click.command("delete-person")
@click.option("--project", required=True, help="Project slug or id (you must be an owner).")
@click.option("--wait/--no-wait", default=True, help="Wait until it is done (default).")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait at most.")
@click.argument("distinct_ids", nargs=-1, required=True)
@pass_context
def delete_person(
    context: Context, project: str, wait: bool, timeout: float, distinct_ids: tuple[str, ...]
) -> None:
    """Delete every event of the persons DISTINCT_IDS: raw events gone, every chart
    recomputed without them, their later events never counted (docs/privacy.md)."""
    if len(distinct_ids) > MAX_DISTINCT_IDS:
        raise CliError(f"at most {MAX_DISTINCT_IDS} distinct ids at a time")
    client = context.client()
    _, body = client.request(
        "POST",
        f"/api/projects/{project}/deletions",
        {"distinctIds": list(distinct_ids)},
        ok=(202,),
    )
    click.echo(f"Deletion {body['id']}: {body['status']}")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while body["status"] != "done":
        if time.monotonic() > deadline:
            raise CliError(f"not done after {timeout:.0f} s; ask again: deletion {body['id']}")
        time.sleep(1.0)
        _, body = client.request("GET", f"/api/projects/{project}/deletions/{body['id']}")
    click.echo(f"Done: {body['events']} events deleted")
