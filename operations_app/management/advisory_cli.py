"""The advisory subcommands of ``manage.py persona``, and a platform's packages::

    persona advisory import FILE [--json] [--as USER]
    persona advisory import --url URL [--json] [--as USER]
    persona advisory list [--package P] [--search TEXT] [--json]
    persona advisory feeds [--json]
    persona platform facts NAME --packages FILE [--release bookworm] [--json] [--as USER]

``import`` reads an OSV file (a record, a list, or ``{"vulns": [...]}``) or the Debian
security tracker's JSON; importing it again changes nothing. ``platform facts`` replaces
a platform's packages with the output of ``dpkg-query -W -f='${Package} ${Version}\\n'``
(or JSON ``{package: version}``) and shows the advisories they are exposed to.
``feeds`` shows the feeds imported periodically (``VMPERSONA_ADVISORY_FEEDS``) and how
their last imports went.

Changes are made as ``--as USER`` (an operator), or else as the system, as changes to
the platform registry are. A bad file prints each problem as ``<path>: <message>``
(exit 1); a refusal or an unreadable URL exits 3.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from operations_app.api.serializers import advisories as s
from operations_app.management.cli_text import print_json, table
from operations_app.management.job_cli import Output
from operations_app.models import Platform
from operations_app.selectors import advisories as advisory_selectors
from operations_app.services import advisories as advisory_services
from vmpersona.errors import DomainError, field_error


def add_parser(sub, as_option: Callable[[Any], None]) -> None:
    adv = sub.add_parser(
        "advisory",
        help="security advisories: import OSV and Debian tracker feeds, list them",
        description="Security advisories the vulnerability policies read (docs/policies.md).",
    )
    actions = adv.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="import advisories from a file or a URL")
    imp.add_argument("file", nargs="?", help="an OSV or Debian security tracker JSON file")
    imp.add_argument("--url", help="an http(s) URL to read the feed from")
    imp.add_argument("--json", action="store_true", help="print what the API answers")
    as_option(imp)
    lst = actions.add_parser("list", help="list advisories, the highest CVSS first")
    lst.add_argument("--package", default="", help="only those affecting this package")
    lst.add_argument("--search", default="", help="in the id, CVE, summary or package")
    lst.add_argument("--json", action="store_true", help="print what the API answers")
    feeds = actions.add_parser(
        "feeds", help="the feeds imported periodically and how their last imports went"
    )
    feeds.add_argument("--json", action="store_true", help="print them as JSON")


def add_facts_parser(platform_actions, as_option: Callable[[Any], None]) -> None:
    facts = platform_actions.add_parser(
        "facts",
        help="replace a platform's packages (dpkg-query output) and show its exposure",
    )
    facts.add_argument("name")
    facts.add_argument(
        "--packages",
        required=True,
        metavar="FILE",
        help="dpkg-query -W -f='${Package} ${Version}\\n' output, or JSON {package: version}",
    )
    facts.add_argument("--release", help="its Debian release (default: bookworm)")
    facts.add_argument("--json", action="store_true", help="print what the API answers")
    as_option(facts)


def _read(path: str, field: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise field_error(field, f"cannot read {path}: {exc.strerror or exc}") from exc


def run(opts: dict, out: Output, *, user) -> None:
    if opts["action"] == "import":
        if bool(opts.get("file")) == bool(opts.get("url")):
            raise DomainError("Name a FILE or give --url URL (one of them).")
        if opts.get("url"):
            result = advisory_services.advisories_import_url(user=user, url=opts["url"])
        else:
            result = advisory_services.advisories_import(
                user=user, content=_read(opts["file"], "file"), origin=Path(opts["file"]).name
            )
        if opts.get("json"):
            print_json(out, s.AdvisoryImportResultSerializer(result.to_dict()).data)
            return
        out.write(result.summary)
        return
    if opts["action"] == "feeds":
        _feeds(opts, out)
        return
    rows = list(advisory_selectors.advisory_list(package=opts["package"], search=opts["search"]))
    if opts.get("json"):
        print_json(out, s.AdvisorySerializer(rows, many=True).data)
        return
    if not rows:
        out.write("no advisories")
        return
    table(
        out,
        ["ID", "CVSS", "SOURCE", "PACKAGES", "SUMMARY"],
        [
            [
                r.advisory_id,
                f"{r.cvss:g}" if r.cvss is not None else "-",
                r.source,
                ", ".join(sorted({f"{a.package} ({a.ecosystem})" for a in r.affected.all()})),
                r.summary.splitlines()[0][:70] if r.summary else "",
            ]
            for r in rows
        ],
    )


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _feeds(opts: dict, out: Output) -> None:
    feeds = advisory_selectors.advisory_feed_list()
    if opts.get("json"):
        print_json(
            out,
            [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in f.items()}
                for f in feeds
            ],
        )
        return
    if not feeds:
        out.write("no advisory feeds configured (VMPERSONA_ADVISORY_FEEDS)")
        return
    table(
        out,
        ["URL", "LAST SUCCESS", "ADVISORIES", "LAST FAILURE", "ERROR", "NEXT"],
        [
            [
                f["url"],
                _when(f["last_success_at"]),
                (
                    f"{f['last_counts'].get('total', 0)} ({f['last_counts'].get('created', 0)} new, "
                    f"{f['last_counts'].get('updated', 0)} updated)"
                    if f["last_counts"]
                    else "-"
                ),
                _when(f["last_failure_at"]),
                (f"{f['last_error'][:80]} ({f['failures']} in a row)" if f["failures"] else "-"),
                _when(f["next_at"]) if f["next_at"] else "at the next run",
            ]
            for f in feeds
        ],
    )


def run_facts(opts: dict, out: Output, *, user, platform: Platform) -> None:
    platform = advisory_services.platform_facts_import(
        user=user,
        platform=platform,
        content=_read(opts["packages"], "packages"),
        debian_release=opts.get("release"),
    )
    exposure, _ = advisory_selectors.exposures([platform], {})
    items = exposure.get(platform.name, [])
    facts = platform.host_facts or {}
    if opts.get("json"):
        print_json(
            out,
            {
                "platform": platform.name,
                "debian_release": facts.get("debian_release"),
                "imported_at": platform.host_facts_imported_at,
                "packages": facts.get("packages") or {},
                "exposure": [e.to_dict() for e in items],
            },
        )
        return
    out.write(
        f"platform {platform.name}: {len(facts.get('packages') or {})} packages "
        f"({facts.get('debian_release')}), exposed to {len(items)} advisories"
    )
    if items:
        table(
            out,
            ["ADVISORY", "CVSS", "PACKAGE", "VERSION", "FIXED IN"],
            [
                [
                    e.advisory,
                    f"{e.cvss:g}" if e.cvss is not None else "-",
                    e.package,
                    e.version,
                    ", ".join(e.fixed) or "-",
                ]
                for e in items
            ],
            indent="  ",
        )
