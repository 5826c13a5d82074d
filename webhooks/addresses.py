"""Where a webhook may be sent: public addresses only (SSRF protection).

An endpoint's URL is checked when it is saved (``check_url``) and, because DNS can answer
differently later, again at every new connection (``client``): the transport resolves the host
itself, refuses unless every address is public, connects to the checked IP (never re-resolving
the name) and checks the socket's peer before sending a byte. TLS still verifies the
certificate against the hostname. Redirects are not followed.

Framework-free on purpose: the callers pass the settings (WEBHOOK_ALLOW_HTTP,
WEBHOOK_ALLOW_PRIVATE_ADDRESSES), so this can be tested and reasoned about on its own.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Any]

_PRIVATE_OFF = "WEBHOOK_ALLOW_PRIVATE_ADDRESSES is off"

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)
_BENCHMARKING = ipaddress.ip_network("198.18.0.0/15")
# Explicit because ipaddress before 3.12.4/3.11.10 judges only part of it not global; .9 and .10
# are anycast services that IANA marks global.
_IETF_PROTOCOL = ipaddress.ip_network("192.0.0.0/24")
_IETF_GLOBAL = (ipaddress.ip_address("192.0.0.9"), ipaddress.ip_address("192.0.0.10"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Everything IPv6 outside global unicast is special (reserved, ULA, link-local, multicast...);
# older ipaddress releases (3.11.7 here) still call some of it "global".
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")


class RefusedURL(ValueError):
    """A webhook URL the contract does not allow; ``str(exc)`` is the reason, for people."""


class RefusedConnection(httpx.ConnectError):
    """``client()`` would not connect: the address is not public. A policy refusal, unlike a
    plain ``httpx.ConnectError`` (a name that stopped resolving, a refused port), which may be
    worth retrying."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)
        self.reason = message


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches: a packet to ``::ffff:127.0.0.1`` (mapped), to
    ``64:ff9b::7f00:1`` (NAT64) or to ``2002:7f00:1::`` (6to4) ends up at 127.0.0.1."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def address_class(ip: str | IPAddress) -> str | None:
    """None for a public address, else the name of its refused class ('loopback', 'private',
    'link-local', 'shared (100.64.0.0/10)', 'multicast', 'unspecified', 'reserved', ...). An
    IPv6 address that embeds an IPv4 one (mapped, NAT64, 6to4) is judged by that IPv4 address.
    Raises ValueError for something that is not an IP address."""
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip)
    ip = _embedded_ipv4(ip) or ip
    # Order matters where classes overlap: the most specific, most telling name first.
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SHARED:
        return "shared (100.64.0.0/10)"
    if ip.version == 4 and ip in _THIS_NETWORK:
        return "this-network (0.0.0.0/8)"
    if ip == _BROADCAST:
        return "broadcast"
    if any(ip in net for net in _PRIVATE if net.version == ip.version):
        return "private"
    if ip.version == 6 and ip.is_site_local:
        return "site-local"
    if any(ip in net for net in _DOCUMENTATION if net.version == ip.version):
        return "documentation"
    if ip in _BENCHMARKING:
        return "benchmarking (198.18.0.0/15)"
    if ip in _IETF_PROTOCOL and ip not in _IETF_GLOBAL:
        return "IETF protocol assignments (192.0.0.0/24)"
    if ip.is_reserved or (ip.version == 6 and ip not in _GLOBAL_UNICAST_V6):
        return "reserved"
    # The IANA special-purpose registry as ipaddress knows it: 192.0.0.0/24, 2001::/23, ...
    if not ip.is_global:
        return "special-purpose (not global)"
    return None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _describe(ip: IPAddress, cls: str) -> str:
    embedded = _embedded_ipv4(ip)
    via = f" (reaching {embedded})" if embedded is not None else ""
    return f"{ip}{via}, {_article(cls)} {cls} address"


class _Unresolvable(Exception):
    pass


def _resolve(host: str, port: int, resolve: Resolver | None) -> list[tuple[int, IPAddress]]:
    """(family, address) for each address ``host`` resolves to, in the resolver's order."""
    resolve = resolve or socket.getaddrinfo
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    # UnicodeError: the idna codec refuses over-long labels; ValueError: e.g. a NUL in the name.
    except (OSError, UnicodeError, ValueError) as exc:
        raise _Unresolvable(f"{host} does not resolve ({exc})") from None
    found = []
    try:
        for family, _type, _proto, _canon, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                raise _Unresolvable(f"{host} resolves to a non-IP address ({sockaddr!r})")
            found.append((family, ipaddress.ip_address(sockaddr[0])))
    except (TypeError, ValueError, IndexError):
        raise _Unresolvable(f"{host} resolves to an unrecognised address") from None
    if not found:
        raise _Unresolvable(f"{host} resolves to no address")
    return found


def _first_refused(addresses: list[tuple[int, IPAddress]]) -> tuple[IPAddress, str] | None:
    for _family, ip in addresses:
        cls = address_class(ip)
        if cls is not None:
            return ip, cls
    return None


def check_url(
    url: str, *, allow_http: bool, allow_private: bool, resolve: Resolver | None = None
) -> None:
    """Raises RefusedURL unless the URL may be a webhook endpoint: ``https`` (``http`` too with
    allow_http), a host and no userinfo, a valid port, and a host whose every address is public
    (unless allow_private). ``resolve`` is called like ``socket.getaddrinfo(host, port,
    type=socket.SOCK_STREAM)`` (the default) so tests can stand in for DNS."""
    if not isinstance(url, str):
        raise RefusedURL("the URL must be a string")
    try:
        # httpx's parser, not urllib's: the one the delivery uses, so both see the same host.
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise RefusedURL(f"not a valid URL: {exc}") from None
    scheme = parsed.scheme
    if scheme == "http" and not allow_http:
        raise RefusedURL("http:// URLs are refused: use https:// (WEBHOOK_ALLOW_HTTP is off)")
    if scheme not in ("https", "http"):
        allowed = "https:// or http://" if allow_http else "https://"
        raise RefusedURL(f"the URL must start with {allowed}, not {scheme or 'nothing'}")
    if not host:
        raise RefusedURL("the URL has no host")
    if parsed.userinfo:
        raise RefusedURL("the URL must not carry a user name or password (user:pass@host)")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise RefusedURL(f"the URL's port {parsed.port} is not between 1 and 65535")
    port = parsed.port or (443 if scheme == "https" else 80)
    # The origin only: a query string may hold a token that has no place in logs.
    shown_host = f"[{host}]" if ":" in host else host
    origin = f"{scheme}://{shown_host}" + (f":{parsed.port}" if parsed.port else "")

    if not allow_private:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        # A literal is judged as written too, whatever a (possibly injected) resolver says.
        if literal is not None and (cls := address_class(literal)) is not None:
            raise RefusedURL(f"{origin} is {_describe(literal, cls)}: refused ({_PRIVATE_OFF})")
    try:
        # Also for literals: the resolver turns forms like 2130706433 or 0x7f.1 into the
        # address the system would really connect to.
        addresses = _resolve(host, port, resolve)
    except _Unresolvable as exc:
        raise RefusedURL(f"{origin}: {exc}") from None
    if allow_private:
        return
    refused = _first_refused(addresses)
    if refused is not None:
        ip, cls = refused
        raise RefusedURL(f"{origin} resolves to {_describe(ip, cls)}: refused ({_PRIVATE_OFF})")


class _RefusedAtConnect(httpcore.ConnectError):
    pass


class _CheckedBackend(httpcore.SyncBackend):
    """Resolves once, checks, then connects to the checked IP: no second lookup that DNS
    rebinding could answer differently."""

    def __init__(self, *, allow_private: bool, resolve: Resolver | None) -> None:
        self._allow_private = allow_private
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve(host, port, self._resolve)
        except _Unresolvable as exc:
            # Not a refusal: DNS may be back on the next attempt.
            raise httpcore.ConnectError(str(exc)) from None
        if not self._allow_private:
            refused = _first_refused(addresses)
            if refused is not None:
                raise _RefusedAtConnect(
                    f"{host}:{port} resolves to {_describe(*refused)}: refused ({_PRIVATE_OFF})"
                )
        failure: Exception = httpcore.ConnectError(f"{host}:{port}: no address to connect to")
        for _family, ip in addresses:
            try:
                # A numeric host: the parent's create_connection does no DNS lookup for it.
                stream = super().connect_tcp(
                    str(ip), port, timeout, local_address, socket_options or []
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            if not self._allow_private:
                self._check_peer(stream, host, port)
            return stream
        raise failure

    def _check_peer(self, stream: httpcore.NetworkStream, host: str, port: int) -> None:
        """The address actually connected to, which is what matters (a NAT or a local
        redirect rule could differ from what was dialled)."""
        try:
            peer = ipaddress.ip_address(stream.get_extra_info("server_addr")[0])
            cls = address_class(peer)
        except (OSError, TypeError, ValueError, IndexError):
            stream.close()
            raise _RefusedAtConnect(f"{host}:{port}: the peer address is unknown") from None
        if cls is not None:
            stream.close()
            raise _RefusedAtConnect(
                f"{host}:{port} connected to {_describe(peer, cls)}: refused ({_PRIVATE_OFF})"
            )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise _RefusedAtConnect("webhooks are not sent over unix sockets")


_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class _CheckedTransport(httpx.HTTPTransport):
    def __init__(self, *, allow_private: bool, resolve: Resolver | None) -> None:
        # Certifi's CAs, with hostname checking; no SSL_CERT_* from the environment either.
        ssl_context = httpx.create_ssl_context(verify=True, trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, limits=_LIMITS)
        # HTTPTransport takes no network backend: swap its pool for one that differs only in
        # that. The SNI and certificate check still use the URL's hostname (httpcore's origin),
        # not the IP the backend connected to.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_CheckedBackend(allow_private=allow_private, resolve=resolve),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.ConnectError as exc:
            # httpx maps every httpcore.ConnectError to a plain ConnectError; keep refusals apart.
            if isinstance(exc.__cause__, _RefusedAtConnect):
                raise RefusedConnection(str(exc.__cause__), request=request) from exc.__cause__
            raise


def client(*, timeout: float, allow_private: bool, resolve: Resolver | None = None) -> httpx.Client:
    """An httpx.Client for deliveries: every new connection is checked as ``check_url`` checks
    a URL (RefusedConnection, an httpx.ConnectError, when refused), redirects are returned,
    not followed, and nothing is taken from the environment (proxies, netrc, CA paths)."""
    return httpx.Client(
        transport=_CheckedTransport(allow_private=allow_private, resolve=resolve),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
