"""The audit trail: an append-only record of who signed in, uploaded, trained, stopped,
exported, imported, scored, shared, renamed and deleted what, and when (model-risk teams
ask for one).

Each event is one JSON line of ``<data dir>/audit/trail.jsonl``: ``time`` (UTC, ISO 8601),
``user`` (the id), ``name``, ``action``, ``target`` (a run or dataset id) and ``details``
(sizes, hashes, names: never the content of a file or a row). Lines are only ever
appended, under an exclusive lock, and each carries ``prev``, the SHA-256 of the line
before it, so a line edited or removed later breaks the chain (:func:`verify`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
from pathlib import Path

import pandas as pd

from finml.config import Settings, get_settings

#: What the trail records.
ACTIONS = (
    "sign_in",
    "upload",
    "train",
    "stop",
    "delete",
    "export",
    "import",
    "score",
    "share",
    "unshare",
    "rename",
)

#: ``prev`` of the first line.
GENESIS = "0" * 64


def trail_path(settings: Settings | None = None) -> Path:
    """The trail's file (its folder is created)."""
    folder = (settings or get_settings()).data_dir / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "trail.jsonl"


def record(who, action: str, target: str = "", settings: Settings | None = None, **details) -> dict:
    """Append one event to the trail.

    Args:
        who: the :class:`finml.access.Principal` acting.
        action: one of :data:`ACTIONS`.
        target: the run or dataset id acted on ("" if none).
        settings: where the trail is (default: from the environment).
        **details: JSON-serialisable facts (a file's SHA-256 and shape, a model name);
            never user content.

    Returns:
        The event as written.

    Raises:
        ValueError: an action not in :data:`ACTIONS`.
    """
    if action not in ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}.")
    path = trail_path(settings)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            prev = GENESIS
            last = _last_line(handle)
            if last:
                prev = hashlib.sha256(last).hexdigest()
            event = {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "user": who.user_id,
                "name": who.name,
                "action": action,
                "target": target,
                "details": details,
                "prev": prev,
            }
            handle.seek(0, 2)
            handle.write(json.dumps(event, sort_keys=True, default=str).encode() + b"\n")
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return event


def _last_line(handle) -> bytes:
    """The last line of the open trail, without its newline (b"" if empty)."""
    handle.seek(0, 2)
    size = handle.tell()
    block, data = 4096, b""
    while size > 0 and data.count(b"\n") < 2:
        step = min(block, size)
        size -= step
        handle.seek(size)
        data = handle.read(step) + data
    lines = data.rstrip(b"\n").split(b"\n")
    return lines[-1] if lines and lines[-1] else b""


def read(settings: Settings | None = None) -> pd.DataFrame:
    """The whole trail, oldest first: ``time``, ``user``, ``name``, ``action``, ``target``,
    ``details`` (as JSON text)."""
    path = trail_path(settings)
    rows = []
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
        for line in handle:
            event = json.loads(line)
            event["details"] = json.dumps(event.get("details", {}), sort_keys=True)
            event.pop("prev", None)
            rows.append(event)
    columns = ["time", "user", "name", "action", "target", "details"]
    return pd.DataFrame(rows, columns=columns)


def verify(settings: Settings | None = None) -> int | None:
    """Check the chain of the trail.

    Returns:
        ``None`` if every line's ``prev`` is the hash of the line before it; else the
        1-based number of the first line that does not follow (an edit or a removal just
        before it).
    """
    prev = GENESIS
    with contextlib.suppress(FileNotFoundError), open(trail_path(settings), "rb") as handle:
        for number, line in enumerate(handle, start=1):
            raw = line.rstrip(b"\n")
            try:
                event = json.loads(raw)
            except ValueError:
                return number
            if event.get("prev") != prev:
                return number
            prev = hashlib.sha256(raw).hexdigest()
    return None
