"""Say why a network call failed (host and cause), and whether trying again can help.

requests wraps the real cause two or three levels deep (ConnectionError ->
MaxRetryError -> NewConnectionError -> ConnectionRefusedError); a bare
"ConnectionError" after a minute of retries tells a user nothing.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class NetFailure:
    host: str  # host[:port] that could not be reached (the proxy's when the proxy itself failed)
    cause: str  # "the name does not resolve (DNS failure ...)", "connection refused", ...
    kind: str  # dns | refused | timeout | tls | proxy | other
    at_proxy: bool = False  # the proxy itself could not be reached
    proxy: str | None = None  # the proxy the request went through, if any

    def __str__(self) -> str:
        if self.at_proxy:
            return f"proxy {self.host}: {self.cause}"
        through = f" (through proxy {self.proxy})" if self.proxy else ""
        return f"{self.host}{through}: {self.cause}"

    def worth_retrying(self, attempt: int) -> bool:
        """A name that does not resolve or a TLS failure will not fix itself in seconds; a
        refusal on the very first try means nothing listens there (a later one may be a
        restart, so it is retried)."""
        if self.kind in ("dns", "tls"):
            return False
        return not (self.kind == "refused" and attempt == 0)


def _chain(exc: BaseException):
    """exc, what it wraps (args, reason, __cause__/__context__), depth first, each once."""
    seen, todo = set(), [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [getattr(item, "reason", None), item.__cause__, item.__context__, *item.args]


def _host_of(items: list[BaseException], fallback_url: str | None) -> str:
    for item in items:
        conn = getattr(item, "conn", None)
        if conn is not None and getattr(conn, "host", None):
            return f"{conn.host}:{conn.port}" if getattr(conn, "port", None) else conn.host
    for item in items:
        request = getattr(item, "request", None)
        if request is not None and getattr(request, "url", None):
            return urlsplit(request.url).netloc
    return urlsplit(fallback_url).netloc if fallback_url else "the server"


def describe(exc: BaseException, url: str | None = None) -> NetFailure:
    """The host and cause behind a requests/urllib3 exception."""
    import requests
    import urllib3.exceptions as u3

    items = list(_chain(exc))
    at_proxy = any(isinstance(i, (requests.exceptions.ProxyError, u3.ProxyError)) for i in items)
    host = _host_of(items, url)
    proxy = next((urlsplit(str(i.pool.proxy)).netloc for i in items
                  if getattr(getattr(i, "pool", None), "proxy", None)), None)
    if proxy and not at_proxy and host == proxy:  # a plain-HTTP proxy: the pool is the proxy's
        host = next((urlsplit(i.request.url).netloc for i in items if getattr(i, "request", None)),
                    urlsplit(url).netloc if url else host)

    def failure(cause: str, kind: str) -> NetFailure:
        return NetFailure(host, cause, kind, at_proxy, proxy)

    def has(*types) -> bool:
        return any(isinstance(i, types) for i in items)

    if has(u3.NameResolutionError, socket.gaierror):
        return failure("the name does not resolve (DNS failure: offline, or no DNS server)", "dns")
    if has(ConnectionRefusedError):
        return failure("connection refused (nothing listens there)", "refused")
    if has(requests.exceptions.SSLError, u3.SSLError):
        return failure("TLS handshake failed (a proxy intercepting HTTPS, or a wrong clock?)", "tls")
    if has(requests.Timeout, u3.TimeoutError, TimeoutError, socket.timeout):
        return failure("timed out", "timeout")
    if has(ConnectionResetError):
        return failure("connection reset", "other")
    if at_proxy:
        return failure("the proxy failed", "proxy")
    from glaucli.errors import brief

    # A signed URL's query is a credential of sorts: never shown.
    return failure(brief(re.sub(r"\?\S*", "", str(exc)) or type(exc).__name__, 200), "other")
