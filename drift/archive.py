"""A report folder as history: what is new, still open or resolved since the previous report.

A scheduled run writes its reports into one folder night after night. Each
run's findings are matched, by their stable id, with the newest earlier
report of the same environment in that folder (a one-environment JSON report
or a multi-environment one, whichever is newer), and marked:

* ``new``: not in the previous report;
* ``open``: in the previous report too; ``first_seen`` carries the date it
  first appeared (from the previous report's own marks when it has them);
* ``resolved``: in the previous report, gone now (listed under the report's
  history, since the finding itself no longer exists).

The marks travel in ``Report.extras["history"]``, so every format shows them
and the JSON holds them for the next run. Files are named
``drift-<name>-<UTC stamp>.<ext>``; ``drift-<name>-latest.<ext>`` are stable
copies of the newest. :func:`prune` removes the oldest timestamped sets
beyond ``--keep N``, never a latest copy and never a file just written.

>>> history = mark(report, find_previous(Path("reports"), "prod"))   # doctest: +SKIP
>>> history["counts"]                                               # doctest: +SKIP
{'new': 1, 'open': 2, 'resolved': 1}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterable, Mapping
from urllib.parse import quote

from .errors import ConfigError
from .findings import Report, plain

if TYPE_CHECKING:
    from .run import RunResult

log = logging.getLogger(__name__)

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
#: The extensions drift writes; pruning never touches any other file.
REPORT_EXTENSIONS = ("html", "md", "json", "txt")
_STAMPED = re.compile(r"^drift-(?P<name>.+)-(?P<stamp>\d{8}T\d{6}Z)\.(?P<ext>html|md|json|txt)$")
_LATEST = re.compile(r"^drift-(?P<name>.+)-latest\.(?P<ext>html|md|json|txt)$")


# --------------------------------------------------------------------------- names


def safe_name(name: str) -> str:
    """An environment or run name as it may appear in a file name.

    >>> safe_name("prod"), safe_name("eu/prod db")
    ('prod', 'eu_prod_db')
    """
    return "".join(c if c.isalnum() or c in "-_+" else "_" for c in name) or "_"


def stamp(moment: datetime) -> str:
    """``20250304T050607Z``: a UTC time that sorts as text."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(STAMP_FORMAT)


def stamped_path(directory: Path, name: str, moment: datetime, extension: str) -> Path:
    return directory / f"drift-{safe_name(name)}-{stamp(moment)}.{extension}"


def latest_path(directory: Path, name: str, extension: str) -> Path:
    return directory / f"drift-{safe_name(name)}-latest.{extension}"


def report_link(path: Path, report_url: str | None) -> str:
    """Where a reader finds ``path``: ``report_url`` with ``{filename}`` filled in, or the path itself.

    >>> report_link(Path("reports/drift-prod-20250304T050607Z.html"), "https://reports.example/{filename}")
    'https://reports.example/drift-prod-20250304T050607Z.html'
    """
    if not report_url:
        return str(path)
    return report_url.replace("{filename}", quote(path.name, safe=""))


def check_report_url(template: str | None) -> str | None:
    """``[drift] report_url`` must say where the file name goes."""
    if template is None or not template.strip():
        return None
    if "{filename}" not in template:
        raise ConfigError(
            f"[drift] report_url = {template!r} has no {{filename}}; write it as https://reports.example/{{filename}}"
        )
    return template.strip()


# --------------------------------------------------------------------------- the previous report


@dataclass(frozen=True)
class Previous:
    """The newest earlier report of one environment: the file it came from and its data."""

    file: str
    generated_at: datetime
    report: Mapping[str, Any]


def find_previous(directory: Path, environment: str, *, exclude: Collection[Path] = ()) -> Previous | None:
    """The newest report of ``environment`` among the JSON reports in ``directory``, or ``None``.

    Both kinds of JSON count: a one-environment report (``environment``
    matches) and a multi-environment one (the entry for ``environment``, when
    it was checked). Files that are not drift's JSON, cannot be read or do not
    parse are skipped. The newest is decided by ``generated_at``, not by file
    times, which copies and restores do not keep.
    """
    exclude = {Path(p).resolve() for p in exclude}
    try:
        entries = list(directory.iterdir())
    except OSError:
        return None
    latest = [p for p in entries if _LATEST.match(p.name) and p.name.endswith(".json")]
    stamped = sorted(
        (p for p in entries if (m := _STAMPED.match(p.name)) and m.group("ext") == "json"),
        key=lambda p: (_STAMPED.match(p.name).group("stamp"), p.name),  # type: ignore[union-attr]
        reverse=True,
    )
    found: list[Previous] = []
    for path in latest:
        found.extend(_entries(path, environment, exclude))
    # Newest file first; one hit among them is enough, as a stamp is taken just before its check.
    for path in stamped:
        hits = _entries(path, environment, exclude)
        if hits:
            found.extend(hits)
            break
    if not found:
        return None
    # The newest wins; between equals, a timestamped file (it is kept) rather than a latest copy.
    return max(found, key=lambda p: (p.generated_at, not _LATEST.match(p.file)))


def _entries(path: Path, environment: str, exclude: Collection[Path]) -> list[Previous]:
    if path.resolve() in exclude:
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.debug("skipping %s: %s", path.name, exc)
        return []
    if not isinstance(document, dict):
        return []
    reports: list[Any] = []
    if document.get("document") == "run":
        reports = [e.get("report") for e in document.get("environments") or () if isinstance(e, dict)]
    elif "findings" in document:
        reports = [document]
    found = []
    for report in reports:
        if not isinstance(report, dict) or report.get("environment") != environment:
            continue
        moment = _parse_time(report.get("generated_at"))
        if moment is not None and isinstance(report.get("findings"), list):
            found.append(Previous(path.name, moment, report))
    return found


def _parse_time(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------- marking


def mark(report: Report, previous: Previous | None) -> dict[str, Any]:
    """The history of ``report`` against ``previous``: a mark per finding, the resolved ones, counts.

    Pure: a report and the previous report's data in, plain data out (what
    goes into ``Report.extras["history"]``).
    """
    now = _iso(report.generated_at)
    before = {f["id"]: f for f in (previous.report.get("findings") if previous else ()) or ()
              if isinstance(f, dict) and "id" in f}
    earlier_marks = ((previous.report.get("history") or {}).get("findings") or {}) if previous else {}
    since_previous = _iso(previous.generated_at) if previous else now

    def first_seen(fid: str) -> str:
        earlier = earlier_marks.get(fid)
        if isinstance(earlier, dict) and earlier.get("first_seen"):
            return str(earlier["first_seen"])
        return since_previous

    marks: dict[str, dict[str, Any]] = {}
    for f in report.findings:
        old = before.get(f.id)
        if old is None:
            marks[f.id] = {"status": "new", "first_seen": now, "changed": False}
        else:
            changed = _json(f.database) != old.get("database") or _json(f.models) != old.get("models")
            marks[f.id] = {"status": "open", "first_seen": first_seen(f.id), "changed": changed}
    current = {f.id for f in report.findings}
    resolved = [
        {
            "id": fid,
            "kind": old.get("kind"),
            "schema": old.get("schema"),
            "table": old.get("table"),
            "name": old.get("name"),
            "object_label": _label(old),
            "message": old.get("message"),
            "severity": old.get("severity"),
            "first_seen": first_seen(fid),
        }
        for fid, old in before.items()
        if fid not in current
    ]
    resolved.sort(key=lambda r: (r["schema"] or "", r["table"] or "", r["kind"] or "", r["name"] or "", r["id"]))
    counts = {
        "new": sum(1 for m in marks.values() if m["status"] == "new"),
        "open": sum(1 for m in marks.values() if m["status"] == "open"),
        "resolved": len(resolved),
    }
    return {
        "previous": {"file": previous.file, "generated_at": _iso(previous.generated_at)} if previous else None,
        "counts": counts,
        "findings": dict(sorted(marks.items())),
        "resolved": resolved,
    }


def with_history(report: Report, history: Mapping[str, Any]) -> Report:
    """``report`` carrying ``history`` in its extras (and so in every format)."""
    return dataclasses.replace(report, extras={**dict(report.extras), "history": dict(history)})


def mark_report(report: Report, directory: Path, *, exclude: Collection[Path] = ()) -> Report:
    """``report`` marked against the newest earlier report of its environment in ``directory``."""
    previous = find_previous(directory, report.environment, exclude=exclude)
    if previous is None:
        log.info("%s: no earlier report in %s; every finding is new", report.environment, directory)
    return with_history(report, mark(report, previous))


def mark_run(result: RunResult, directory: Path, *, exclude: Collection[Path] = ()) -> RunResult:
    """Every checked environment of ``result`` marked against its previous report in ``directory``."""
    environments = tuple(
        dataclasses.replace(e, report=mark_report(e.report, directory, exclude=exclude)) if e.report is not None else e
        for e in result.environments
    )
    comparison = result.comparison
    return dataclasses.replace(result, environments=environments, comparison=comparison)


def _label(old: Mapping[str, Any]) -> str:
    table = f"{old['schema']}.{old.get('table')}" if old.get("schema") else str(old.get("table") or "")
    if old.get("object_type") == "column" and old.get("name"):
        return f"{table}.{old['name']}"
    return str(old.get("name") or table)


def _json(value: Any) -> Any:
    # The previous side went through JSON: compare like with like (tuples became lists, keys strings).
    return json.loads(json.dumps(plain(value), default=str))


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- pruning


def prune(directory: Path, keep: int, *, protect: Iterable[Path] = ()) -> list[Path]:
    """Delete the oldest timestamped report sets beyond the newest ``keep`` of each name; returns what went.

    A set is the files of one run (``drift-prod-20250304T050607Z.html``,
    ``.md``, ``.json``, ...). Names are counted apart, so runs of ``prod``
    alone and of ``all`` sharing a folder each keep ``keep``. Latest copies,
    files in ``protect`` (the ones just written) and any file not named like a
    drift report are never deleted.
    """
    if keep < 1:
        raise ConfigError(f"--keep {keep}: keep at least 1 report set (the one just written)")
    protected = {Path(p).resolve() for p in protect}
    sets: dict[str, dict[str, list[Path]]] = {}
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    for path in entries:
        match = _STAMPED.match(path.name)
        if match and path.is_file():
            sets.setdefault(match.group("name"), {}).setdefault(match.group("stamp"), []).append(path)
    removed: list[Path] = []
    for name in sorted(sets):
        stamps = sorted(sets[name], reverse=True)
        for old in stamps[keep:]:
            for path in sets[name][old]:
                if path.resolve() in protected:
                    continue
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    log.warning("could not remove old report %s: %s", path.name, exc.strerror or exc)
                    continue
                removed.append(path)
                log.info("removed old report %s", path.name)
    return removed


def is_report_file(path: Path) -> bool:
    return bool(_STAMPED.match(path.name) or _LATEST.match(path.name))

