"""Scheduling policies' evaluations: pure planning over one fleet snapshot.

``fleet`` is the snapshot (platforms and VMs as plain data), ``rules`` the scope,
affinity and platform rules, ``evaluate`` the strategies per trigger, each built on the
one placement (``operations_app.placement.evacuation``). No Django, no rows.
"""
