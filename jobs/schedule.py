"""`hierograph schedule`: run the refresh on an interval or a cron expression (APScheduler),
logging each run under `<home>/logs/`. A run that finds another refresh holding the lock
logs that and waits for the next slot."""

from __future__ import annotations

import io
import logging
from datetime import datetime
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from rich.console import Console

from hierograph.settings import Settings

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


def refresh_job(settings: Settings) -> bool:
    """One refresh with the configured watch list; its report goes to the log. True when
    every source was read."""
    from hierograph.graph.factory import open_store
    from hierograph.graph.store import StoreError
    from hierograph.jobs.refresh import RefreshError, Watch, print_report, run_refresh

    log.info("refresh starting")
    try:
        with open_store(settings) as store:
            report = run_refresh(
                store, settings, Watch.from_settings(settings), show_progress=False
            )
    except (RefreshError, StoreError) as e:
        log.error("refresh did not run: %s", e)
        return False
    except Exception:
        log.exception("refresh crashed; the next run resumes where it stopped")
        return False
    console = Console(width=120, file=io.StringIO())
    print_report(console, report)
    for line in console.file.getvalue().splitlines():
        log.info("%s", line)
    for source in report.failed:
        log.error("%s failed: %s", source.name, source.error)
    log.info("refresh finished")
    return not report.failed


def run_schedule(
    settings: Settings, every_minutes: int | None, cron: str | None, run_now: bool = True
) -> None:
    """Block, running the refresh on the trigger until interrupted (Ctrl-C, SIGTERM)."""
    trigger = make_trigger(every_minutes, cron)
    path = setup_logging(settings)
    scheduler = BlockingScheduler()
    # APScheduler reads next_run_time=None as "paused": leave it out to wait for the trigger.
    first = {"next_run_time": datetime.now().astimezone()} if run_now else {}
    scheduler.add_job(
        refresh_job,
        trigger,
        args=[settings],
        id="refresh",
        max_instances=1,  # a slow run is never overlapped by the next one
        coalesce=True,  # runs missed while asleep collapse into one
        **first,
    )
    log.info("schedule started (%s); logging to %s", trigger, path)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("schedule stopped")
