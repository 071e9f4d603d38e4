"""Rate limits for the API token endpoint: per client address and per account name.

The rates come from ``settings.VMPERSONA_AUTH_THROTTLE_RATES`` when a request arrives
(not when the class is defined), so an installation and a test can change them.
django-axes locks an account or address out after failed passwords; these throttles
also slow down a client that keeps asking, successful or not.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _AuthThrottle(SimpleRateThrottle):
    rate_name = ""

    def get_rate(self) -> str | None:
        return settings.VMPERSONA_AUTH_THROTTLE_RATES[self.rate_name]


class AuthAddressThrottle(_AuthThrottle):
    """Token requests from one client address."""

    scope = "auth-address"
    rate_name = "address"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthAccountThrottle(_AuthThrottle):
    """Token requests naming one account, from wherever they come."""

    scope = "auth-account"
    rate_name = "account"

    def get_cache_key(self, request, view) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username.strip():
            return None  # nothing to count; the view answers 400
        ident = username.strip().casefold()[:150]
        return self.cache_format % {"scope": self.scope, "ident": ident}
