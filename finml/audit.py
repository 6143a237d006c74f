"""The audit trail: an append-only record of who signed in, uploaded, trained, stopped,
exported, imported, scored, shared, renamed and deleted what, and when (model-risk teams
ask for one).

Each event is one JSON line of ``<data dir>/audit/trail.jsonl``: ``time`` (UTC, ISO 8601),
``user`` (the id), ``name``, ``action``, ``target`` (a run or dataset id) and ``details``
(sizes, hashes, names: never the content of a file or a row). Lines are only ever
appended, under an exclusive lock, and each carries ``prev``, the SHA-256 of the line
before it, so a line edited or removed later breaks the chain (:func:`verify`).

A team with several app servers on one tracking server (``MLFLOW_TRACKING_URI=http://``)
shares the trail: after each event the server uploads its whole trail as the artifact
``trail-<server id>.jsonl`` of the run ``trails`` in the MLflow experiment
:data:`EXPERIMENT`, and :func:`read` / :func:`trails` gather every server's trail from
there, so an admin on any server sees every event. Each server's chain is checked apart.
An upload that fails (the server is down) leaves the event in the local trail; the next
successful upload carries it.
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
    "delete_dataset",
    "read_rows",
    "threshold",
    "download",
)

#: ``prev`` of the first line.
GENESIS = "0" * 64
#: The MLflow experiment holding the app servers' trails (one run, ``trails``).
EXPERIMENT = "finml-audit"


def server_id(settings: Settings | None = None) -> str:
    """This app server's id (12 hex characters, made once per data folder): names its
    trail on the tracking server."""
    import secrets

    path = trail_path(settings).parent / "server-id"
    with contextlib.suppress(FileExistsError), open(path, "x") as handle:
        handle.write(secrets.token_hex(6))
    return path.read_text().strip()


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
    _publish(settings or get_settings())
    return event


def _publish(settings: Settings) -> None:
    """Upload this server's trail to the tracking server, if there is one. A failure keeps
    the event here (the next upload carries it) and is reported on stderr."""
    import shutil
    import sys
    import tempfile

    from finml.data import remote

    if not remote.is_remote(settings):
        return
    try:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / f"trail-{server_id(settings)}.jsonl"
            shutil.copyfile(trail_path(settings), copy)
            remote.publish(copy, "trails", settings, EXPERIMENT)
    except Exception as exc:  # the action itself succeeded; its event is kept here
        print(f"finml: the audit trail could not be uploaded: {exc}", file=sys.stderr)


def trails(settings: Settings | None = None) -> dict[str, Path]:
    """Every app server's trail: this server's own file, and with a tracking server the
    other servers' trails downloaded from it (into ``audit/servers/``).

    Returns:
        dict: server id -> trail file, this server first.

    Raises:
        StoreError: the tracking server did not answer.
    """
    from finml.data import remote

    settings = settings or get_settings()
    own = server_id(settings)
    found = {own: trail_path(settings)}
    if remote.is_remote(settings):
        folder = trail_path(settings).parent / "servers"
        for path in remote.fetch_all("trails", folder, settings, EXPERIMENT):
            sid = path.stem.removeprefix("trail-")
            if sid != own and path.name == f"trail-{sid}.jsonl":
                found[sid] = path
    return found


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


def read(settings: Settings | None = None, found: dict[str, Path] | None = None) -> pd.DataFrame:
    """Every server's trail, oldest first: ``time``, ``server``, ``user``, ``name``,
    ``action``, ``target``, ``details`` (as JSON text).

    Args:
        settings: where this server's trail is.
        found: the trails to read, as :func:`trails` returned them (default: fetch them).

    Raises:
        StoreError: the tracking server did not answer.
    """
    rows = []
    for sid, path in (found if found is not None else trails(settings)).items():
        with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
            for line in handle:
                with contextlib.suppress(ValueError):  # a broken line shows in verify
                    event = json.loads(line)
                    event["details"] = json.dumps(event.get("details", {}), sort_keys=True)
                    event.pop("prev", None)
                    rows.append({**event, "server": sid})
    columns = ["time", "server", "user", "name", "action", "target", "details"]
    return pd.DataFrame(rows, columns=columns).sort_values("time", kind="stable", ignore_index=True)


def verify(settings: Settings | None = None, path: Path | None = None) -> int | None:
    """Check the chain of a trail (this server's, unless ``path`` names another).

    Returns:
        ``None`` if every line's ``prev`` is the hash of the line before it; else the
        1-based number of the first line that does not follow (an edit or a removal just
        before it).
    """
    prev = GENESIS
    with contextlib.suppress(FileNotFoundError), open(path or trail_path(settings), "rb") as handle:
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
