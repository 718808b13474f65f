"""`retail`: the operator's command line for the local suite."""

from __future__ import annotations

import datetime as dt
import sys

import typer
from rich.console import Console
from rich.table import Table

from shared.api_types import parse_day
from shared.settings import load_settings_or_exit
from suite.settings import DbInitSettings, OperatorSettings, load_stack_or_exit

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Run the retail pipeline locally: stack, runs, replays, demo.")
# Tables stay readable when output goes to a file or CI log (no terminal width).
console = Console(width=None if sys.stdout.isatty() else 120)


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:  # the APIs' one reading of a day: YYYY-MM-DD exactly (not 20240115)
        return parse_day(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _retailers(value: str | None) -> list[str] | None:
    return [r.strip() for r in value.split(",") if r.strip()] if value else None


@app.command("db-init")
def db_init(retailers: bool = typer.Option(
        False, "--retailers", help="also create each retailer's own database and schema")
) -> None:
    """Apply database/init/NN_*.sql in order to DATABASE_URL (safe to run twice)."""
    from suite.dbinit import NoInitSql, init_warehouse, set_role_password

    s = load_settings_or_exit(DbInitSettings)
    try:
        applied = init_warehouse(s.database_url)
    except NoInitSql as exc:
        console.print(f"[red]db-init: {exc}[/red]")
        raise typer.Exit(1) from None
    for name in applied:
        console.print(f"applied {name}")
    if s.bi_reader_password is not None:
        set_role_password(s.database_url, "bi_reader", s.bi_reader_password.get_secret_value())
        console.print("bi_reader password set")
    if retailers:
        from suite.stack import prepare_retailer_databases

        prepare_retailer_databases()
        console.print("retailer databases ready")


@app.command("settings")
def settings_cmd(process: str = typer.Argument(
        None, help="a process (`ingestion-worker`, `retailer1`, `db-init`, ...); all if omitted"),
        check: bool = typer.Option(False, "--check",
                                   help="build its settings; exit 2 naming what is missing")
) -> None:
    """List the variables each process reads; with --check, check a process's settings."""
    from shared.settings import settings_env_names, settings_errors
    from suite.settings import command_settings

    classes = command_settings()
    if process is not None and process not in classes:
        raise typer.BadParameter(f"unknown process {process!r}; one of {', '.join(classes)}")
    chosen = {process: classes[process]} if process else classes
    failed = False
    for name, cls in chosen.items():
        console.print(f"[bold]{name}[/bold] ({cls.__name__}): "
                      + " ".join(settings_env_names(cls)), soft_wrap=True)
        if check:
            problems = settings_errors(cls)
            failed = failed or bool(problems)
            for problem in problems:
                console.print(f"  [red]{problem}[/red]")
            if not problems:
                console.print("  settings ok")
    if failed:
        raise typer.Exit(2)


@app.command()
def up() -> None:
    """Start the local stack in the background and print where each process is."""
    from suite import stack

    s = load_stack_or_exit()
    results = stack.up(s, echo=console.print)
    table = Table("process", "state", "where")
    for svc, state in results:
        table.add_row(svc.name, state, svc.url or "")
    console.print(table)
    console.print("logs: .data/logs/ (follow them all with `make logs`); stop with `make down`")


@app.command()
def down() -> None:
    """Stop exactly what `up` started."""
    from suite import stack

    if not stack.down(echo=console.print):
        console.print("nothing of ours was running")


@app.command()
def status() -> None:
    """Show which processes of the stack run."""
    from suite import stack

    table = Table("process", "state", "where")
    for row in stack.status(load_stack_or_exit()):
        table.add_row(*row)
    console.print(table)


@app.command()
def logs(names: list[str] = typer.Argument(None, help="only these processes")) -> None:
    """Follow the logs of every process, each line prefixed with its process."""
    from suite import stack

    stack.follow_logs(names or None)


@app.command()
def run(date: str = typer.Option(None, help="one date, YYYY-MM-DD"),
        start: str = typer.Option(None, help="first date of a backfill"),
        end: str = typer.Option(None, help="last date of a backfill"),
        retailers: str = typer.Option(None, help="comma-separated retailer ids"),
        wait: bool = typer.Option(True, help="show progress until the runs end")) -> None:
    """Run a date (or a range) through the suite, as POST /runs does, with a progress bar."""
    from services.ingestion.cli import run_dates

    load_settings_or_exit(OperatorSettings)
    if not date and not (start and end):
        raise typer.BadParameter("give --date, or --start and --end")
    statuses = run_dates(date=_date(date), start=_date(start), end=_date(end),
                         retailers=_retailers(retailers), wait=wait)
    if wait and any(st not in ("succeeded", "succeeded_with_warnings")
                    for st in _as_list(statuses)):
        raise typer.Exit(1)


def _as_list(statuses) -> list[str]:
    if isinstance(statuses, dict):
        return [str(v) for v in statuses.values()]
    if isinstance(statuses, list | tuple):
        return [str(v) for v in statuses]
    return [str(statuses)]


@app.command()
def replay(date: str = typer.Option(..., help="the date to re-transform"),
           retailers: str = typer.Option(None, help="comma-separated retailer ids"),
           wait: bool = typer.Option(True)) -> None:
    """Re-transform a date from its stored silver objects, without asking the retailers."""
    from services.transformation.cli import replay as replay_date

    load_settings_or_exit(OperatorSettings)
    status = replay_date(_date(date), retailers=_retailers(retailers), wait=wait)
    if wait and status not in ("succeeded", "succeeded_with_warnings"):
        raise typer.Exit(1)


@app.command("refresh-marts")
def refresh_marts(start: str = typer.Option(..., help="the first order date to rebuild"),
                  end: str = typer.Option(None, help="the last one (default: start)"),
                  retailers: str = typer.Option(None, help="comma-separated retailer ids "
                                                            "(default: every retailer)")) -> None:
    """Rebuild the marts of a date range from the warehouse (database/marts models)."""
    from services.transformation.marts import refresh_dates
    from services.transformation.settings import TransformationWorkerSettings

    # It runs the transformation's load engine in this process, with that engine's settings.
    load_settings_or_exit(TransformationWorkerSettings)
    first = _date(start)
    assert first is not None
    last = _date(end) or first
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    seconds = refresh_dates(days, _retailers(retailers))
    console.print(f"marts of {len(days)} date(s) rebuilt in {seconds:.2f}s")


@app.command()
def sweep() -> None:
    """Re-send steps whose worker vanished; dead-letter those out of attempts."""
    from services.ingestion.sweeper import sweep_once

    refs = sweep_once(load_settings_or_exit(OperatorSettings))
    for ref in refs:
        console.print(f"re-sent {ref.step} {ref.retailer_id} of run {ref.run_id}")
    console.print(f"{len(refs)} step(s) re-sent")


@app.command()
def demo(date: str = typer.Option(None, help="the day to run (default: yesterday, UTC)"),
         orders_per_day: int = typer.Option(None, help="orders per retailer for the day")) -> None:
    """Bring the stack up, seed a day at the three retailers, run it, print a summary."""
    from suite.demo import run_demo

    s = load_stack_or_exit()
    ok = run_demo(s, _date(date), orders_per_day=orders_per_day, console=console)
    if not ok:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
