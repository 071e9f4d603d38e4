"""What the policy store tells the rest of the project about reviews.

``version_reviewed`` is sent inside the review's transaction, after its rows are
written, by ``services.versions`` when a version is submitted, approved, rejected or
retired; keyword arguments ``version``, ``action`` (one of ``ACTIONS``), ``user`` (who
acted), ``comment`` and ``previous_status``. Receivers must not fail the review: the
store sends it robustly and logs what a receiver raised. Operations connects its
notifications (bell, email, webhook) to it; the store itself knows nothing of them.
"""

from __future__ import annotations

from django.dispatch import Signal

SUBMITTED, APPROVED, REJECTED, RETIRED = "submitted", "approved", "rejected", "retired"
ACTIONS = (SUBMITTED, APPROVED, REJECTED, RETIRED)

version_reviewed = Signal()
