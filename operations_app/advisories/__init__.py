"""Security advisories as plain data: the OSV and Debian security tracker feeds parsed
(``osv``, ``debian``), versions compared the way each ecosystem orders them
(``versions``: Debian's dpkg order, PyPI's PEP 440) and a platform's or a VM's packages
matched against the advisories (``exposure``). No Django, no rows: the import service
stores what ``parse_feed`` returns, the policies' fleet snapshot asks ``exposures``.
"""

from operations_app.advisories.feeds import parse_feed
from operations_app.advisories.records import Advisory, Affected, FeedError

__all__ = ["Advisory", "Affected", "FeedError", "parse_feed"]
