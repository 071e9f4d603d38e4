"""How operations read on the pages: the one place for text, numbers and chart geometry.

Pure functions from rows and dicts to what the templates show; no queries and no
writes. ``formatting`` holds sizes, durations and percentages (the command line uses it
too), ``errors`` a domain error's text and HTTP status, ``charts`` a VM's metric
charts, ``platforms`` capabilities and constraints, ``jobs`` a job's log lines,
``migration`` the dry run and a migrate job's summary, ``snapshots`` a VM's snapshots,
``windows`` maintenance windows (occurrences, the calendar, history).
"""
