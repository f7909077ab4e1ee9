"""`hierograph schedule`: run the refresh on an interval or a cron expression (APScheduler),
logging each run under `<home>/logs/`. A run that finds another refresh holding the lock
logs that and waits for the next slot."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import datetime
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from rich.console import Console

from hierograph.settings import Settings

if TYPE_CHECKING:
    from hierograph.jobs.refresh import RefreshReport

log = logging.getLogger("hierograph.jobs.schedule")


class ScheduleError(ValueError):
    """A bad interval or cron expression; the message shows the expected form."""


def make_trigger(every_minutes: int | None, cron: str | None) -> CronTrigger | IntervalTrigger:
    if cron:
        try:
            return CronTrigger.from_crontab(cron)
        except ValueError as e:
            raise ScheduleError(
                f"bad cron expression {cron!r} ({e}); use five fields, e.g. '0 6 * * *' for "
                "06:00 every day."
            ) from e
    if not every_minutes or every_minutes < 1:
        raise ScheduleError("the interval must be at least 1 minute, e.g. --every-minutes 360.")
    return IntervalTrigger(minutes=every_minutes)


def setup_logging(settings: Settings) -> Path:
    """Log lines to `<home>/logs/refresh.log`, rotated daily, a week kept."""
    folder = settings.log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "refresh.log"
    handler = TimedRotatingFileHandler(path, when="midnight", backupCount=7, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    return path


def run_line(report: RefreshReport, started: datetime) -> str:
    """One line per run for the terminal: when, what it fetched, what it placed."""
    fetched = sum(s.fetched for s in report.sources)
    new = sum(s.new for s in report.sources)
    updated = sum(s.updated for s in report.sources)
    line = f"{started:%Y-%m-%d %H:%M} refresh: fetched {fetched} ({new} new, {updated} updated)"
    place = report.place
    if report.no_tree:
        line += ", placed none (no tree yet: run `hierograph build`)"
    elif place is not None:
        line += f", placed {sum(place.placed.values())} in the tree"
        if place.new_topics:
            line += f" ({len(place.new_topics)} new topics)"
    if report.mapped:
        line += f", {report.mapped} on the paper map"
    failed = [s.name for s in report.failed]
    return line + (f"; failed: {', '.join(failed)} (see the log)" if failed else "")


def refresh_job(settings: Settings, echo: Callable[[str], None] | None = None) -> bool:
    """One refresh with the configured watch list; its report goes to the log, and one line
    about it to `echo` (the terminal). True when every source was read."""
    from hierograph.graph.factory import open_store
    from hierograph.graph.store import StoreError
    from hierograph.jobs.refresh import RefreshError, Watch, print_report, run_refresh

    log.info("refresh starting")
    started = datetime.now().astimezone()
    say = echo or (lambda line: None)
    try:
        with open_store(settings) as store:
            report = run_refresh(
                store, settings, Watch.from_settings(settings), show_progress=False
            )
    except (RefreshError, StoreError) as e:
        log.error("refresh did not run: %s", e)
        say(f"{started:%Y-%m-%d %H:%M} refresh did not run: {e}")
        return False
    except Exception as e:
        log.exception("refresh crashed; the next run resumes where it stopped")
        say(f"{started:%Y-%m-%d %H:%M} refresh crashed ({type(e).__name__}); see the log")
        return False
    console = Console(width=120, file=io.StringIO())
    print_report(console, report)
    for line in console.file.getvalue().splitlines():
        log.info("%s", line)
    for source in report.failed:
        log.error("%s failed: %s", source.name, source.error)
    log.info("refresh finished")
    say(run_line(report, started))
    return not report.failed


def run_schedule(
    settings: Settings,
    every_minutes: int | None,
    cron: str | None,
    run_now: bool = True,
    echo: Callable[[str], None] | None = None,
) -> None:
    """Block, running the refresh on the trigger until interrupted (Ctrl-C, SIGTERM). `echo`
    gets a line when the schedule starts and one per run, each with the next run's time."""
    trigger = make_trigger(every_minutes, cron)
    path = setup_logging(settings)
    scheduler = BlockingScheduler()
    say = echo or (lambda line: None)

    def with_next(line: str) -> None:
        job = scheduler.get_job("refresh")
        when = getattr(job, "next_run_time", None)
        say(f"{line}; next run {when:%Y-%m-%d %H:%M}" if when else line)

    # APScheduler reads next_run_time=None as "paused": leave it out to wait for the trigger.
    first = {"next_run_time": datetime.now().astimezone()} if run_now else {}
    scheduler.add_job(
        refresh_job,
        trigger,
        args=[settings, with_next],
        id="refresh",
        max_instances=1,  # a slow run is never overlapped by the next one
        coalesce=True,  # runs missed while asleep collapse into one
        **first,
    )
    log.info("schedule started (%s); logging to %s", trigger, path)
    first_run = "now" if run_now else "at the first trigger time"
    say(f"refresh scheduled ({trigger}); first run {first_run}; full reports in {path}")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("schedule stopped")
