"""Work on a second connection while the first does the rest: PostgreSQL answers both at once on two cores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait

__all__ = ["alongside"]

_SIDE_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nova-recall-side")


def alongside(conn, side_conn, main_work, side_work):
    """``(main_work(conn), side_work(side_conn))``, the side's work on its own thread meanwhile.
    Without ``side_conn`` both run on ``conn``, the side's work first (the full text then overlaps
    the query embedding). Returns only once the side's work is over, even when the main work
    raised: the caller hands ``side_conn`` back to its pool after this."""
    if side_conn is None:
        side = side_work(conn)
        return main_work(conn), side
    future = _SIDE_THREADS.submit(side_work, side_conn)
    try:
        main = main_work(conn)
    finally:
        wait([future])
    return main, future.result()
