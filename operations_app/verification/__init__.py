"""Verification: what is compared to tell a VM matches its plan. Pure, no Django.

``table`` holds the generic part (``Compared`` rows, ``Each`` groups, ``evaluate``,
``Check``); ``libvirt`` the table of what libvirt reports against the plan
(``LIBVIRT_CHECKS`` over ``LibvirtFacts``). ``services.verification`` reads the facts
and records the checks.
"""

from .libvirt import LIBVIRT_CHECKS, LibvirtFacts, libvirt_checks
from .table import Check, Compared, Each, at_least, equal, evaluate, never, show_value

__all__ = [
    "LIBVIRT_CHECKS",
    "Check",
    "Compared",
    "Each",
    "LibvirtFacts",
    "at_least",
    "equal",
    "evaluate",
    "libvirt_checks",
    "never",
    "show_value",
]
