"""The channel layer that carries live updates between workers and web servers."""

from __future__ import annotations

from typing import Any

# channels_redis waits up to 5 s for a message with a blocking pop; redis-py 8 gives up
# reading a socket after 5 s by default, which would end every idle websocket with an
# error every 5 s. Reads may take this long before the connection counts as dead.
SOCKET_TIMEOUT_S = 15


def redis_channel_layer(url: str, *, prefix: str = "asgi") -> dict[str, Any]:
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": url, "socket_timeout": SOCKET_TIMEOUT_S}],
            "prefix": prefix,
        },
    }
