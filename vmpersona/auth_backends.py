"""Authentication backends.

django-axes' backend refuses to authenticate without a request. Every login that comes
over HTTP (the login page, the admin, the API token endpoint) passes its request and is
counted and locked out as usual; a call without one (Django's test client
``Client.login``, code in a shell) has no client address to count and nothing to
throttle, so it falls through to the next backend instead of failing.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
