"""The adaptation layer of a migration: what has to change for a domain to run on the
target platform, as pure code (no libvirt calls, no database writes).

It follows the specification's pseudocode::

    diffs = compare(target_platform, snapshot.platform)
    for each fix in vppd.fixes:            # ascending priority, then document order
        if fix.applies_to(diffs): execute(fix)
    unresolved issues -> administrator notification

Usage::

    from operations_app.adaptation import plan_adaptation, domain_diff

    plan = plan_adaptation(
        domain=hv.domains.xml(name),        # or a DomainSpec
        source=source_platform,             # Platform rows, mappings or PlatformViews
        target=target_platform,
        vppd_fixes=document.get("fixes", []),
        cpu_compatible=None,                # libvirt's compareCPU verdict, when known
        target_disk_paths={"/srv/a/web1.qcow2": "/srv/b/web1.qcow2"},
    )
    if not plan.ok:
        notify(plan.problems)               # one sentence per unresolved blocking issue
    xml = plan.adapted_xml()                # define this on the target
    lines = plan.diff()                     # for the dry run page

API
---
``compare(*, domain, source, target, cpu_compatible=None, target_disk_paths=None)``
    -> ``list[Difference]``. A ``Difference`` (frozen) has ``kind`` (``cpu_model``,
    ``machine_type``, ``accelerator``, ``disk_bus``, ``nic_model``, ``emulator``,
    ``firmware``, ``network``, ``portgroup``, ``storage_pool``, ``storage_path``,
    ``resources``), ``subject`` (``domain``, ``cpu``, ``arch``, ``disk vda``,
    ``interface 52:54:00:..`` or ``interface 0``, ``vcpus``, ``memory_mib``,
    ``memory_hard_limit_mib``), ``source``, ``target`` (allowed values joined by ", "),
    ``detail`` (a sentence), ``blocking`` and ``reason`` (why it stayed unresolved; only
    on ``AdaptationPlan.unresolved`` entries).

``plan_adaptation(*, domain, source, target, vppd_fixes, cpu_compatible=None,
target_disk_paths=None)`` -> ``AdaptationPlan`` with ``original`` and ``adapted``
(``DomainSpec``; devices keep their order), ``differences``, ``fixes``
(``PlannedFix``: ``fix_id`` = ``builtin:<name>`` or the profile fix's id, ``description``,
``action``, ``when`` = ``definition`` | ``before_cutover`` | ``after_cutover``,
``differences``/``difference``, ``changes``), ``guest_commands_before`` and
``guest_commands_after``, ``unresolved``, ``ok``, ``problems``, ``hardware_changes``
(non-empty: the move must be cold), ``emulator``, ``disk_paths``, ``notes``,
``invalid_definition``, ``adapted_xml()``, ``diff()`` and ``to_dict()`` (plain JSON).

``domain_diff(before_xml, after_xml)`` -> unified diff lines of two domain XMLs.

Rules
-----
- Differences are judged against the target's *effective* capabilities for the domain
  type the domain will run with there (``operations_app.constraints``): libvirt's report
  for that type, narrowed by the platform's declared constraints. What the platform did
  not report is not judged.
- A profile's domain fix that matches a difference and sets something that can resolve
  its kind claims it: built-ins leave it alone, and if the fix's value does not resolve
  it (a bus the target does not allow either), it stays unresolved, with that reason.
  Guest commands never resolve a difference; they are scheduled, each once.
- Built-in fixes (see ``builtins``) run for the blocking differences nobody claimed.
- After the fixes the domain is compared again; new differences (a fix's consequence)
  go through the same fixes, for a few rounds. What the last comparison still finds is
  ``unresolved``; ``ok`` is False while any of it is blocking or the adapted definition
  is not valid.
- The caller's ``DomainSpec`` is never changed.

``move`` plans a whole migration on top of this (shared by the job and the dry run):
``plan_move(src=, tgt=, vm_name=, source=, target=, fixes=, requested=, running=,
pool_path=)`` -> the adaptation, the disks, the path (live or cold) and why, or why the
request is refused; ``choose_path`` and ``disk_map`` are its parts.
"""

from .differences import KINDS, Difference, compare
from .fixes import ProfileFix, profile_fixes
from .move import MoveRefused, choose_path, disk_map, plan_move
from .plan import AdaptationPlan, PlannedFix, hardware_changes, plan_adaptation
from .platforms import Offer, PlatformView
from .source import domain_diff

__all__ = [
    "KINDS",
    "AdaptationPlan",
    "Difference",
    "MoveRefused",
    "Offer",
    "PlannedFix",
    "PlatformView",
    "ProfileFix",
    "choose_path",
    "compare",
    "disk_map",
    "domain_diff",
    "hardware_changes",
    "plan_adaptation",
    "plan_move",
    "profile_fixes",
]
