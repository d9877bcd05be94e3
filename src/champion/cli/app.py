"""The Typer application and its sub-command groups (commands live in sibling modules)."""

from __future__ import annotations

import typer

from champion import __version__

app = typer.Typer(
    name="champion",
    help="Keep a production tabular model healthy: drift, AutoML retraining, A/B, promotion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
simulate_app = typer.Typer(help="Simulated traffic and drift.", no_args_is_help=True)
registry_app = typer.Typer(help="Model versions, aliases and their history.", no_args_is_help=True)
lifecycle_app = typer.Typer(
    help="The lifecycle steps the Airflow DAGs run, from the shell.", no_args_is_help=True
)
ab_app = typer.Typer(
    help="A/B experiments: status, configuration, evaluation.", no_args_is_help=True
)
log_app = typer.Typer(help="The prediction log: retention.", no_args_is_help=True)
notify_app = typer.Typer(
    help="Notifications: test the webhooks, retry, the delivery log.", no_args_is_help=True
)
webhook_app = typer.Typer(
    help="MLflow's registry webhook: the API reloads the moment an alias moves.",
    no_args_is_help=True,
)
app.add_typer(simulate_app, name="simulate")
app.add_typer(notify_app, name="notify")
app.add_typer(webhook_app, name="webhook")
app.add_typer(log_app, name="log")
app.add_typer(ab_app, name="ab")
app.add_typer(registry_app, name="registry")
app.add_typer(lifecycle_app, name="lifecycle")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"champion {__version__}")
