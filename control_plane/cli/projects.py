"""``realanalytics projects …``: create, list, show, members, keys, plan, retention."""

import json

import click

from control_plane.cli.client import CliError
from control_plane.cli.context import Context, pass_context
from control_plane.cli.output import table


@click.group()
def projects() -> None:
    """Projects: create, list, show, members, keys, plan and raw retention."""


@projects.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
@click.option("--plan", help="Plan (default: the server's; others need an operator).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@pass_context
def projects_create(
    context: Context, slug: str, name: str | None, plan: str | None, as_json: bool
) -> None:
    """Create a project; prints its keys (the secret key is shown only this once)."""
    body = {"slug": slug, "name": name or slug}
    if plan is not None:
        body["plan"] = plan
    _, created = context.client().request("POST", "/api/projects", body)
    if as_json:
        click.echo(json.dumps(created, indent=2))
        return
    project = created["project"]
    click.echo(f"Created project {project['slug']} ({project['id']}), plan {project['plan']}")
    click.echo(f"public key: {created['publicKey']}")
    click.echo(f"secret key: {created['secretKey']}")
    click.echo("The secret key is shown only once: keep it somewhere safe (deploys need it).")


@projects.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def projects_list(context: Context, as_json: bool) -> None:
    """The projects you are a member of."""
    _, body = context.client().request("GET", "/api/projects")
    if as_json:
        click.echo(json.dumps(body["projects"], indent=2))
        return
    rows = [
        (
            p["slug"],
            p["name"],
            p["plan"],
            p["monthlyEventLimit"],
            p["rawRetentionDays"],
            p["role"],
            p["id"],
        )
        for p in body["projects"]
    ]
    click.echo(table(["slug", "name", "plan", "limit", "retention", "role", "id"], rows))


@projects.command("show")
@click.argument("project")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def projects_show(context: Context, project: str, as_json: bool) -> None:
    """A project, its members and its key hints (never the keys)."""
    _, body = context.client().request("GET", f"/api/projects/{project}")
    shown = body["project"]
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    click.echo(
        f"{shown['slug']} ({shown['id']}): {shown['name']}, plan {shown['plan']}"
        f" ({shown['monthlyEventLimit']} events/month), you are {shown['role']}"
    )
    click.echo(f"raw events kept {shown['rawRetentionDays']} days")
    usage = shown.get("usage")
    if usage:
        click.echo(
            f"usage {usage['month']}: {usage['used']} of {usage['limit']} events"
            f" ({usage['remaining']} left"
            + (f", {usage['overage']} past the limit" if usage.get("overage") else "")
            + ")"
        )
    click.echo(table(["member", "role"], [(m["email"], m["role"]) for m in shown["members"]]))
    click.echo(table(["key", "hint"], [(k["kind"], k["hint"]) for k in shown["keys"]]))


@projects.command("add-member")
@click.argument("project")
@click.argument("email")
@click.option("--role", type=click.Choice(["member", "owner"]), default="member")
@pass_context
def projects_add_member(context: Context, project: str, email: str, role: str) -> None:
    """Invite EMAIL (they accept with the mailed code), or change a member's role."""
    body = {"email": email, "role": role}
    status, _ = context.client().request("POST", f"/api/projects/{project}/members", body)
    if status == 201:
        click.echo(f"Invited {email} to {project} as {role} (they accept the mailed code)")
    else:
        click.echo(f"{email} is now {role} of {project}")


@projects.command("invitations")
@click.argument("project")
@pass_context
def projects_invitations(context: Context, project: str) -> None:
    """The project's open invitations (owners)."""
    _, body = context.client().request("GET", f"/api/projects/{project}/invitations")
    rows = [(i["id"], i["email"], i["role"], i["expiresAt"]) for i in body["invitations"]]
    click.echo(table(["id", "email", "role", "expires"], rows))


@projects.command("revoke-invitation")
@click.argument("project")
@click.argument("invitation_id")
@pass_context
def projects_revoke_invitation(context: Context, project: str, invitation_id: str) -> None:
    """Revoke an open invitation (its code stops working)."""
    context.client().request("DELETE", f"/api/projects/{project}/invitations/{invitation_id}")
    click.echo(f"Invitation {invitation_id} revoked")


@projects.command("remove-member")
@click.argument("project")
@click.argument("email")
@pass_context
def projects_remove_member(context: Context, project: str, email: str) -> None:
    """Remove the member with EMAIL (never the last owner)."""
    client = context.client()
    _, body = client.request("GET", f"/api/projects/{project}")
    ids = [m["userId"] for m in body["project"]["members"] if m["email"].lower() == email.lower()]
    if not ids:
        raise CliError(f"{email} is not a member of {project}")
    client.request("DELETE", f"/api/projects/{project}/members/{ids[0]}")
    click.echo(f"{email} removed from {project}")


@projects.command("rotate-keys")
@click.argument("project")
@pass_context
def projects_rotate_keys(context: Context, project: str) -> None:
    """Revoke both keys and print new ones (the old public key stops within seconds)."""
    _, body = context.client().request("POST", f"/api/projects/{project}/keys/rotate")
    click.echo(f"public key: {body['publicKey']}")
    click.echo(f"secret key: {body['secretKey']}")
    click.echo("The secret key is shown only once.")


@projects.command("plan")
@click.argument("project")
@click.argument("plan")
@pass_context
def projects_plan(context: Context, project: str, plan: str) -> None:
    """Move the project to PLAN (operators only; the new limit applies without restarts)."""
    _, body = context.client().request("POST", f"/api/projects/{project}/plan", {"plan": plan})
    shown = body["project"]
    click.echo(f"{shown['slug']}: plan {shown['plan']}, {shown['monthlyEventLimit']} events/month")


@projects.command("retention")
@click.argument("project")
@click.argument("days", type=int)
@pass_context
def projects_retention(context: Context, project: str, days: int) -> None:
    """Keep PROJECT's raw events DAYS days (owners; at most the operators' maximum). Older
    ones are dropped by the workers' next retention run; rollups stay."""
    path = f"/api/projects/{project}"
    _, body = context.client().request("PATCH", path, {"rawRetentionDays": days})
    shown = body["project"]
    click.echo(f"{shown['slug']}: raw events kept {shown['rawRetentionDays']} days")
