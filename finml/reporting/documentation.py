"""A run's model documentation: the free-text sections a model validator asks for beside
what finml measures (the Federal Reserve's and OCC's *Supervisory Guidance on Model Risk
Management*, SR 11-7 / OCC 2011-12, 2011: "purpose and use", the data and its
exclusions, the model's limitations, and ongoing monitoring). The analyst writes them on
Evaluate; they are stored with the run (``documentation.json``), travel with its export
and open the HTML report, next to the measured sections (data and split audit,
performance, scorecard bins and IV, stability, fair lending)."""

from __future__ import annotations

import datetime as dt
import re

from finml.errors import SpecError, StoreError

#: The sections: key -> (heading, what to write).
SECTIONS = {
    "purpose": (
        "Purpose and intended use",
        "The business decision the model supports, the population it scores and who uses "
        "its output (e.g. approve or refer retail loan applications under 50,000).",
    ),
    "data": (
        "Data and exclusions",
        "Where the data comes from, its time window, the definition of the outcome (e.g. 90 "
        "days past due within 12 months) and the rows or applicants left out, and why.",
    ),
    "limitations": (
        "Limitations",
        "Where the model should not be used or may be weak: segments with few rows, "
        "assumptions, known shifts, characteristics left out on purpose.",
    ),
    "monitoring": (
        "Monitoring plan",
        "What is tracked after deployment, how often and with which triggers (e.g. score "
        "PSI monthly, above 0.25 a review; the bad rate per score band quarterly).",
    ),
}
#: Longest section, characters.
MAX_SECTION = 5000
#: The run's artifact.
ARTIFACT = "documentation.json"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # line breaks and tabs are kept


def clean_sections(values: dict) -> dict[str, str]:
    """The sections as stored: known keys only, text with control characters other than
    line breaks and tabs removed (``\\r\\n`` as ``\\n``), surrounding blanks stripped.

    Args:
        values: section key (of :data:`SECTIONS`) -> text.

    Raises:
        SpecError: an unknown section, a value that is not text, or one over
            :data:`MAX_SECTION` characters (naming the section).
    """
    out = {}
    for key, value in values.items():
        if key not in SECTIONS or not isinstance(value, str):
            raise SpecError(f"Model documentation: {str(key)[:40]!r} is not a section finml keeps.")
        text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
        if len(text) > MAX_SECTION:
            raise SpecError(
                f"Model documentation, {SECTIONS[key][0]}: {len(text):,} characters, more than "
                f"{MAX_SECTION:,}. Shorten it or link to the full document."
            )
        out[key] = text
    return out


def save_documentation(store, run_id: str, values: dict, who: str) -> dict:
    """Store a run's documentation (replacing what it had), with who wrote it and when.

    Args:
        store: the run store; a :class:`finml.access.ScopedStore` lets only the run's
            owner or an admin write (:data:`finml.access.CHANGES`).
        run_id: the run.
        values: section key -> text (:func:`clean_sections`).
        who: how the writer is shown (a display name).

    Returns:
        dict: what was stored: ``sections`` (key -> text), ``by``, ``at`` (ISO 8601 UTC).

    Raises:
        SpecError: see :func:`clean_sections`.
        AccessError: a run the user may see but not change.
        StoreError: a run the user may not see, or a write that failed.
    """
    doc = {
        "sections": clean_sections(values),
        "by": str(who)[:200],
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    store.log_json(run_id, doc, ARTIFACT)
    return doc


def check_documentation(raw) -> dict:
    """A stored (or imported) documentation record, checked: ``sections`` of known keys
    with text of at most :data:`MAX_SECTION` characters, ``by`` and ``at`` short text.

    Raises:
        SpecError: any other shape.
    """
    ok = isinstance(raw, dict) and set(raw) <= {"sections", "by", "at"}
    ok = ok and isinstance(raw.get("sections"), dict)
    for key in ("by", "at"):
        ok = ok and isinstance(raw.get(key, ""), str) and len(raw.get(key, "")) <= 200
    if not ok:
        raise SpecError("Model documentation: not the shape finml writes.")
    sections = raw["sections"]
    if clean_sections(sections) != sections:
        raise SpecError("Model documentation: text finml would not store.")
    return raw


def load_documentation(store, run_id: str) -> dict:
    """A run's documentation (:func:`save_documentation`'s record), or an empty record
    (``{"sections": {}}``) when it has none or what it has is not what finml writes."""
    try:
        raw = store.read_json(run_id, ARTIFACT)
    except (StoreError, FileNotFoundError, OSError, ValueError):
        return {"sections": {}}
    try:
        return check_documentation(raw)
    except SpecError:
        return {"sections": {}}


def report_sections(doc: dict) -> list[tuple[str, str]]:
    """``(heading, text)`` of every section in :data:`SECTIONS` order; a section not
    written reads "Not documented." so a validator sees what is missing."""
    sections = doc.get("sections", {})
    return [(title, sections.get(key) or "Not documented.") for key, (title, _) in SECTIONS.items()]
