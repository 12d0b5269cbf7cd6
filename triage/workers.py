"""Worker processes for the CPU-heavy, pure part of intake: MIME parsing
and triage. The SMTP receiver runs them beside its own process so that
both cores work (Python runs one thread at a time per process).

Nothing here touches the network or the database: a worker gets the raw
bytes and returns the parsed message and its triage. The store stays in
the receiving process, which commits before it answers 250.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger("triage.workers")

_triage = None


def _init(model_dir) -> None:
    global _triage
    from .pipeline import Triage

    logging.getLogger().setLevel(logging.WARNING)
    _triage = Triage(model_dir)


def parse_and_classify(raw: bytes, envelope_from: str | None):
    """(InboundMessage, TriageResult or None). Automatic mail (auto-replies,
    bounces, lists) is not triaged."""
    from channels.mime import parse_email

    msg = parse_email(raw, envelope_from=envelope_from)
    if msg.auto_reply:
        return msg, None
    return msg, _triage.classify(msg.text or "", channel="email", subject=msg.subject)


def warm_up(_: int = 0) -> bool:
    return _triage is not None


def start_pool(workers: int, model_dir=None) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes with the models loaded (spawned, not
    forked: the receiving process has threads)."""
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init, initargs=(model_dir,))
    list(pool.map(warm_up, range(workers)))  # start them now, not on the first mail
    return pool


def loaded_model_dir(_: int = 0) -> str | None:
    """The model folder a worker classifies with (tests, health)."""
    return str(_triage.model_dir) if _triage is not None else None


def restart_pool(old: ProcessPoolExecutor | None, workers: int, model_dir) -> ProcessPoolExecutor:
    """A new pool with the models of ``model_dir``, started (and warm)
    before the old one is let go; mail already handed to the old pool is
    still finished there."""
    new = start_pool(workers, model_dir)
    if old is not None:
        old.shutdown(wait=False, cancel_futures=False)
    return new
