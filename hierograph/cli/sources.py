"""`hierograph refresh` and `schedule`: live sources and periodic refresh."""

from __future__ import annotations

from typing import Annotated

import typer

from hierograph.cli.common import app, console, fail, open_store_or_fail, state


@app.command()
def refresh(
    query: Annotated[
        list[str] | None,
        typer.Option(help="arXiv search query, e.g. 'abs:\"preference optimization\"'."),
    ] = None,
    category: Annotated[list[str] | None, typer.Option(help="arXiv category, e.g. cs.CL.")] = None,
    hf_daily: Annotated[
        bool | None, typer.Option("--hf-daily/--no-hf-daily", help="Read HF daily papers.")
    ] = None,
    hf_paper: Annotated[
        list[str] | None, typer.Option(help="Also read this arXiv id's Hugging Face page.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Last HF daily date to read, YYYY-MM-DD (default today).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Fetch what the watched sources published since the last refresh and place the new
    papers into the tree. --query/--category/--hf-daily replace the watch list in settings."""
    from datetime import date

    from hierograph.jobs.refresh import RefreshError, Watch, print_report, run_refresh

    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD.")
    watch = Watch.from_settings(state.settings, query, category, hf_daily, hf_paper or ())
    with open_store_or_fail() as store:
        try:
            report = run_refresh(store, state.settings, watch, as_of=day, show_progress=not quiet)
        except RefreshError as e:
            fail(str(e))
    print_report(console, report)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def schedule(
    every_minutes: Annotated[
        int | None, typer.Option(min=1, help="Run every N minutes (default from settings).")
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option(help="Crontab expression, e.g. '0 6 * * *'; wins over the interval."),
    ] = None,
    now: Annotated[bool, typer.Option(help="Also run once right away.")] = True,
) -> None:
    """Run `refresh` on a schedule until stopped: one line per run (when, what it fetched,
    what it placed) and the next run's time; full reports go to <home>/logs/refresh.log."""
    from hierograph.jobs.schedule import ScheduleError, run_schedule

    s = state.settings
    try:
        run_schedule(
            s,
            every_minutes or s.schedule_every_minutes,
            cron or (None if every_minutes else s.schedule_cron),
            run_now=now,
            echo=lambda line: console.print(line, highlight=False, markup=False),
        )
    except ScheduleError as e:
        fail(str(e))


# --- methods, code links, link health, recipes (issue 6) ---
