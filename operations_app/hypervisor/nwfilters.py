"""nwfilter operations (the XML lives in ``nwfilterxml``)."""

from __future__ import annotations

import builtins
import dataclasses

import libvirt

from ._facet import Facet
from .errors import NotFound
from .nwfilterxml import nwfilter_xml, parse_nwfilter_xml
from .types import NWFilterSpec


class NWFilters(Facet):
    """``hv.nwfilters``. Not every driver has filters (``test:///`` has none: ``Unsupported``)."""

    def define(self, spec: NWFilterSpec) -> str:
        """Define or update the filter ``spec.name``; returns its UUID. Interfaces that
        reference it pick up the new rules at once."""
        nwfilter_xml(spec)  # validate before touching libvirt

        def run(conn: libvirt.virConnect) -> str:
            document = spec
            if spec.uuid is None:  # libvirt keys filters by uuid: keep the existing one
                try:
                    existing = conn.nwfilterLookupByName(spec.name).UUIDString()
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_NWFILTER:
                        raise
                else:
                    document = dataclasses.replace(spec, uuid=existing)
            return conn.nwfilterDefineXML(nwfilter_xml(document)).UUIDString()

        return self._call(f"define network filter {spec.name!r}", run)

    def undefine(self, name: str, *, missing_ok: bool = True) -> bool:
        """Remove a filter (libvirt refuses while an interface uses it)."""
        try:
            self._call(
                f"undefine network filter {name!r}",
                lambda c: c.nwfilterLookupByName(name).undefine(),
            )
        except NotFound:
            if not missing_ok:
                raise
            return False
        return True

    def xml(self, name: str) -> str:
        return self._call(
            f"read network filter {name!r}", lambda c: c.nwfilterLookupByName(name).XMLDesc(0)
        )

    def lookup(self, name: str) -> NWFilterSpec:
        return parse_nwfilter_xml(self.xml(name))

    def exists(self, name: str) -> bool:
        try:
            self.xml(name)
        except NotFound:
            return False
        return True

    def list(self) -> list[str]:
        return self._call(
            "list network filters", lambda c: sorted(f.name() for f in c.listAllNWFilters(0))
        )

    def bindings(self) -> builtins.list[tuple[str, str]]:
        """(port device, filter name) of every filter bound to a running interface."""

        def run(conn: libvirt.virConnect) -> builtins.list[tuple[str, str]]:
            return sorted((b.portDev(), b.filterName()) for b in conn.listAllNWFilterBindings(0))

        return self._call("list network filter bindings", run)
