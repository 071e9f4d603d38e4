"""Applications, runtimes and monitoring agents: unique names and files, install order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError, pointer, show
from profiles_app.vppd.checks.common import as_dict, as_list, unique


def _check_install(install: Any, base: tuple[object, ...]) -> Iterator[DocumentError]:
    install = as_dict(install)
    if install.get("method") == "files":
        yield from unique(as_list(install.get("files")), "path", (*base, "files"), "file path")


def _check_components(items: list, base: tuple[object, ...], what: str) -> Iterator[DocumentError]:
    yield from unique(items, "name", base, f"{what} name")
    for index, item in enumerate(items):
        item = as_dict(item)
        yield from _check_install(item.get("install"), (*base, index, "install"))
        yield from unique(
            as_list(item.get("config")), "path", (*base, index, "config"), "config file path"
        )


def check_applications(doc: dict, **_: Any) -> Iterator[DocumentError]:
    apps = as_list(doc.get("application_manifest"))
    base = ("application_manifest",)
    yield from _check_components(apps, base, "application")
    names = {as_dict(app).get("name") for app in apps}
    earlier: set[str] = set()
    for index, app in enumerate(apps):
        app = as_dict(app)
        own = app.get("name")
        for position, dep in enumerate(as_list(app.get("depends_on"))):
            if not isinstance(dep, str):
                continue
            at = pointer((*base, index, "depends_on", position))
            if dep == own:
                yield DocumentError(at, f"application {show(own)} cannot depend on itself")
            elif dep in earlier:
                continue
            elif dep in names:
                yield DocumentError(
                    at,
                    f"{show(dep)} is listed after this application; applications are installed "
                    "in manifest order, so move it earlier",
                )
            else:
                yield DocumentError(
                    at, f"there is no application named {show(dep)} in the manifest"
                )
        if isinstance(own, str):
            earlier.add(own)


def check_runtimes(doc: dict, **_: Any) -> Iterator[DocumentError]:
    yield from _check_components(
        as_list(doc.get("runtime_environment")), ("runtime_environment",), "runtime"
    )


def check_agents(doc: dict, **_: Any) -> Iterator[DocumentError]:
    yield from _check_components(
        as_list(doc.get("monitoring_agents")), ("monitoring_agents",), "agent"
    )
