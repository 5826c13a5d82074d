"""Who is calling: the client's address, through the proxies the deployment trusts."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The caller's address. Behind proxies (API_TRUSTED_PROXY_HOPS of them, each appending the
    address it saw to X-Forwarded-For), it is the entry the outermost proxy appended: entries
    left of it are whatever the client sent, and REMOTE_ADDR is the nearest proxy."""
    hops = settings.API_TRUSTED_PROXY_HOPS
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        addresses = [entry.strip() for entry in forwarded if entry.strip()]
        if len(addresses) >= hops:
            return addresses[-hops][:64]
    return request.META.get("REMOTE_ADDR") or "unknown"


def client_ip(request: HttpRequest | None) -> str | None:
    """``client_address`` when it is an IP address, else None: for stores that keep addresses
    as such (django-axes on PostgreSQL). A request made in code (a test's login) has none."""
    if request is None:
        return None
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
