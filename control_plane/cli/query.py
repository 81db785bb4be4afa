"""``realanalytics query``: one query (JSON or YAML) to the query API, printed as a table."""

import json
from typing import Any

import click
import yaml

from control_plane.cli.client import CliError
from control_plane.cli.context import Context, pass_context
from control_plane.cli.output import query_table


@click.command()
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
