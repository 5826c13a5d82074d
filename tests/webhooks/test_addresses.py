"""webhooks/addresses.py: a webhook never reaches a non-public address, when its endpoint is
saved (check_url) nor when a delivery connects (client), against a real local server."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks import addresses
from webhooks.addresses import RefusedConnection, RefusedURL, address_class, check_url

PUBLIC = "93.184.216.34"
# A name, so that what it "resolves" to comes from the test's resolver and no real DNS.
NAME = "hooks.example.com"

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "shared (100.64.0.0/10)"),
    ("100.127.255.254", "shared (100.64.0.0/10)"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
    ("::", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:100.64.0.1", "shared (100.64.0.0/10)"),
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of 169.254.169.254
    ("0.1.2.3", "this-network (0.0.0.0/8)"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("::7f00:1", "reserved"),  # IPv4-compatible: deprecated, never routed as IPv4
    ("fec0::1", "site-local"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("2001:db8::1", "documentation"),
    ("198.18.0.1", "benchmarking (198.18.0.0/15)"),
    ("192.0.0.8", "IETF protocol assignments (192.0.0.0/24)"),
    ("192.0.0.170", "IETF protocol assignments (192.0.0.0/24)"),
    ("2001::1", "special-purpose (not global)"),  # Teredo
]
PUBLIC_ADDRESSES = [
    "8.8.8.8",
    PUBLIC,
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "172.32.0.1",  # just past 172.16.0.0/12
    "100.128.0.1",  # just past 100.64.0.0/10
    "192.0.0.9",  # an anycast service IANA marks global, inside 192.0.0.0/24
]


def resolver_to(*ips: str, calls: list | None = None):
    """A stand-in for socket.getaddrinfo that answers with ``ips`` for any name."""

    def resolve(host, port, type=0):
        if calls is not None:
            calls.append(host)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in ips
        ]

    return resolve


def unresolvable(host, port, type=0):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def refused(url: str, **kwargs) -> str:
    options = {"allow_http": False, "allow_private": False, **kwargs}
    with pytest.raises(RefusedURL) as caught:
        check_url(url, **options)
    return str(caught.value)


# address_class


@pytest.mark.parametrize(("ip", "expected"), REFUSED)
def test_a_non_public_address_is_named_by_its_class(ip, expected):
    assert address_class(ip) == expected


@pytest.mark.parametrize("ip", PUBLIC_ADDRESSES)
def test_a_public_address_has_no_class(ip):
    assert address_class(ip) is None


def test_address_class_takes_ipaddress_objects_and_refuses_what_is_not_an_address():
    import ipaddress

    assert address_class(ipaddress.ip_address("::ffff:127.0.0.1")) == "loopback"
    assert address_class(ipaddress.ip_address("8.8.8.8")) is None
    with pytest.raises(ValueError):
        address_class("hooks.example.com")


# check_url: the URL's form


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "WEBHOOK_ALLOW_HTTP is off"),
        ("ftp://hooks.example.com/", "must start with https://"),
        ("gopher://hooks.example.com/", "must start with https://"),
        ("hooks.example.com/path", "must start with https://"),
        ("https:///path", "no host"),
        ("https://", "no host"),
        ("https://user:secret@hooks.example.com/", "user name or password"),
        ("https://user@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com:0/", "port 0"),
        ("https://hooks.example.com:65536/", "port 65536"),
        ("https://hooks.example.com:https/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
    ],
)
def test_a_url_of_the_wrong_form_is_refused(url, reason):
    assert reason in refused(url, resolve=resolver_to(PUBLIC))


def test_a_backslash_before_an_at_sign_does_not_hide_the_real_host():
    # urllib and browsers disagree about this one; httpx (the delivery's parser) sees userinfo.
    assert "user name or password" in refused(
        "https://hooks.example.com\\@127.0.0.1/", resolve=resolver_to(PUBLIC)
    )


def test_http_is_accepted_only_where_allowed():
    check_url(
        "http://hooks.example.com/",
        allow_http=True,
        allow_private=False,
        resolve=resolver_to(PUBLIC),
    )
    check_url(
        "HTTPS://Hooks.Example.com:8443/x?y=1",
        allow_http=False,
        allow_private=False,
        resolve=resolver_to(PUBLIC),
    )


def test_the_reason_names_the_origin_but_not_the_query_string():
    reason = refused(
        "https://hooks.example.com:8443/in?token=s3cret", resolve=resolver_to("10.0.0.5")
    )
    assert reason == (
        "https://hooks.example.com:8443 resolves to 10.0.0.5, a private address: refused "
        "(WEBHOOK_ALLOW_PRIVATE_ADDRESSES is off)"
    )
    assert "s3cret" not in reason


# check_url: where the host resolves


@pytest.mark.parametrize(("ip", "expected"), REFUSED)
def test_a_name_resolving_to_a_non_public_address_is_refused(ip, expected):
    calls = []
    reason = refused(f"https://{NAME}/hook", resolve=resolver_to(ip, calls=calls))
    assert f"a {expected} address" in reason or f"an {expected} address" in reason
    assert calls == [NAME]


@pytest.mark.parametrize("ip", PUBLIC_ADDRESSES)
def test_a_name_resolving_to_public_addresses_is_accepted(ip):
    calls = []
    check_url(
        f"https://{NAME}/hook",
        allow_http=False,
        allow_private=False,
        resolve=resolver_to(ip, "8.8.4.4", calls=calls),
    )
    assert calls == [NAME]


@pytest.mark.parametrize("order", [(PUBLIC, "10.0.0.5"), ("10.0.0.5", PUBLIC)])
def test_one_private_address_among_public_ones_is_enough_to_refuse(order):
    assert "10.0.0.5, a private address" in refused(f"https://{NAME}/", resolve=resolver_to(*order))


def test_a_name_that_does_not_resolve_is_refused():
    assert refused(f"https://{NAME}/", resolve=unresolvable) == (
        f"https://{NAME}: {NAME} does not resolve ([Errno {socket.EAI_NONAME}] Name or "
        "service not known)"
    )
    assert "resolves to no address" in refused(f"https://{NAME}/", resolve=resolver_to())
    assert "does not resolve" in refused(
        f"https://{NAME}/", allow_private=True, resolve=unresolvable
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://127.0.0.1/", "127.0.0.1, a loopback address"),
        ("https://127.0.0.1:8443/", "127.0.0.1, a loopback address"),
        ("https://[::1]/", "::1, a loopback address"),
        ("https://[::ffff:127.0.0.1]/", "(reaching 127.0.0.1), a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("https://[fe80::1%25eth0]/", "a link-local address"),
        # Forms that only the system's resolver turns into 127.0.0.1.
        ("https://2130706433/", "resolves to 127.0.0.1, a loopback address"),
        ("https://0x7f.1/", "resolves to 127.0.0.1, a loopback address"),
        ("https://127.1/", "resolves to 127.0.0.1, a loopback address"),
    ],
)
def test_an_ip_literal_is_refused_through_the_real_resolver(url, expected):
    assert expected in refused(url)  # socket.getaddrinfo: numeric forms need no DNS


def test_a_literal_is_judged_as_written_whatever_the_resolver_says():
    assert "a loopback address" in refused("https://127.0.0.1/", resolve=resolver_to(PUBLIC))


def test_octal_forms_are_refused_as_invalid_urls():
    assert "not a valid URL" in refused("https://0177.0.0.1/")


def test_with_allow_private_non_public_addresses_are_accepted():
    for ip, _class in REFUSED:
        check_url(
            f"https://{NAME}/",
            allow_http=False,
            allow_private=True,
            resolve=resolver_to(ip, PUBLIC),
        )
    check_url("https://127.0.0.1:8443/", allow_http=False, allow_private=True)
    check_url("http://[::1]/", allow_http=True, allow_private=True)
    # The form of the URL is still checked.
    assert "WEBHOOK_ALLOW_HTTP" in refused("http://127.0.0.1/", allow_private=True)


# check_url, fuzzed: only ever None or RefusedURL

_hosts = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"\A[a-z0-9.-]{1,30}\Z"),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.sampled_from(["", "[", "]", "[::1", "::1", "[::1]:", "0x7f.1", "2130706433", "a..b"]),
)
_urls = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"\A[A-Za-z][A-Za-z0-9+.-]{0,7}://[^/?#\s]{0,40}([/?#]\S{0,20})?\Z"),
    st.from_regex(r"\Ahttps?://[\x00-\x7f]{0,40}\Z"),
    st.builds(
        "{}://{}{}{}{}".format,
        st.sampled_from(["https", "http", "HTTPS", "ftp", "", "javascript", "h\ttps"]),
        st.sampled_from(["", "@", "u@", "u:p@", ":@", "%40@", "a\\@"]),
        _hosts,
        st.one_of(
            st.just(""),
            st.integers(-10, 100_000).map(lambda p: f":{p}"),
            st.text(max_size=6).map(lambda p: f":{p}"),
        ),
        st.text(max_size=20),
    ),
)


@settings(max_examples=400, deadline=None)
@given(url=_urls, allow_http=st.booleans())
def test_check_url_only_accepts_or_refuses_and_never_accepts_what_does_not_resolve(url, allow_http):
    try:
        check_url(url, allow_http=allow_http, allow_private=False, resolve=unresolvable)
    except RefusedURL as exc:
        assert str(exc)
    else:
        pytest.fail(f"{url!r} was accepted though its host does not resolve")


@settings(max_examples=400, deadline=None)
@given(url=_urls, allow_http=st.booleans(), allow_private=st.booleans())
def test_check_url_accepts_only_well_formed_urls_with_a_host(url, allow_http, allow_private):
    calls = []
    try:
        check_url(
            url,
            allow_http=allow_http,
            allow_private=allow_private,
            resolve=resolver_to(PUBLIC, calls=calls),
        )
    except RefusedURL as exc:
        assert str(exc)
        return
    parsed = httpx.URL(url)
    assert parsed.scheme in (("https", "http") if allow_http else ("https",))
    assert parsed.raw_host and not parsed.userinfo
    assert calls == [parsed.raw_host.decode("ascii")]
    if not allow_private:
        import ipaddress

        try:
            literal = ipaddress.ip_address(calls[0])
        except ValueError:
            return
        assert address_class(literal) is None


# client: checked at every connection, against a real server on 127.0.0.1


class _Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so pooling shows

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                received.append((self.command, self.path, self.headers.get("Host", "")))
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, format, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    running.thread.start()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()
    running.thread.join(5)


def test_the_client_refuses_a_private_address_and_the_server_hears_nothing(server):
    with (
        addresses.client(timeout=5, allow_private=False) as http,
        pytest.raises(RefusedConnection) as caught,
    ):
        http.post(server.url(), content=b"{}")
    assert isinstance(caught.value, httpx.ConnectError)
    assert "127.0.0.1, a loopback address: refused" in str(caught.value)
    assert caught.value.request.url == server.url()
    assert server.requests == []


def test_with_allow_private_the_client_reaches_the_server(server):
    with addresses.client(timeout=5, allow_private=True) as http:
        answer = http.post(server.url("/hook"), content=b"{}")
    assert answer.status_code == 200 and answer.text == "ok"
    assert server.requests == [("POST", "/hook", f"127.0.0.1:{server.port}")]


def test_the_client_connects_to_the_address_it_checked_and_pools_the_connection(server):
    calls = []
    resolve = resolver_to("127.0.0.1", calls=calls)
    with addresses.client(timeout=5, allow_private=True, resolve=resolve) as http:
        first = http.post(server.url("/a", host=NAME), content=b"1")
        second = http.post(server.url("/b", host=NAME), content=b"2")
    assert (first.status_code, second.status_code) == (200, 200)
    # The name went to the resolver once: the one connection served both requests, and the
    # Host header kept the name while the socket went to the resolved IP.
    assert calls == [NAME]
    host = f"{NAME}:{server.port}"
    assert server.requests == [("POST", "/a", host), ("POST", "/b", host)]


def test_dns_rebinding_after_the_check_is_refused_at_connection(server):
    answers = iter([PUBLIC, "127.0.0.1"])

    def rebinding(host, port, type=0):
        return resolver_to(next(answers))(host, port, type)

    url = server.url("/hook", host=NAME)
    check_url(url, allow_http=True, allow_private=False, resolve=rebinding)  # saved: public
    with (
        addresses.client(timeout=5, allow_private=False, resolve=rebinding) as http,
        pytest.raises(RefusedConnection, match=re.escape("127.0.0.1, a loopback address")),
    ):
        http.post(url, content=b"{}")
    assert server.requests == []


@pytest.fixture
def dialled(monkeypatch) -> list:
    """The addresses the process's sockets connect to, from now on."""
    seen = []
    original = socket.socket.connect

    def connect(sock, address):
        seen.append(address[0])
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def test_any_private_candidate_refuses_before_dialling_anything(server, dialled):
    resolve = resolver_to(PUBLIC, "127.0.0.1")
    with (
        addresses.client(timeout=5, allow_private=False, resolve=resolve) as http,
        pytest.raises(RefusedConnection, match=re.escape("127.0.0.1, a loopback address")),
    ):
        http.post(server.url(host=NAME), content=b"{}")
    # Not even the public candidate: the name is refused as a whole, as check_url refuses it.
    assert dialled == []
    assert server.requests == []


def test_a_name_that_stops_resolving_is_a_plain_connect_error_not_a_refusal(server):
    with (
        addresses.client(timeout=5, allow_private=False, resolve=unresolvable) as http,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        http.post(server.url(host=NAME), content=b"{}")
    assert not isinstance(caught.value, RefusedConnection)
    assert "does not resolve" in str(caught.value)
    assert server.requests == []


@pytest.fixture
def redirected_to_local(monkeypatch, server):
    """Connections dialled to PUBLIC land on the local server, as a NAT or a local firewall
    rule could do: what the client dialled was public, the peer it reached is not."""
    original = socket.socket.connect

    def connect(sock, address):
        if address[0] == PUBLIC:
            address = ("127.0.0.1", server.port)
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def test_the_peer_actually_connected_to_is_checked(server, redirected_to_local):
    with (
        addresses.client(timeout=5, allow_private=False, resolve=resolver_to(PUBLIC)) as http,
        pytest.raises(RefusedConnection, match=re.escape("connected to 127.0.0.1, a loopback")),
    ):
        http.post(server.url(host=NAME), content=b"{}")
    assert server.requests == []
    # The same path reaches the server when private addresses are allowed: the refusal above
    # was the peer check's, not a connection that failed.
    with addresses.client(timeout=5, allow_private=True, resolve=resolver_to(PUBLIC)) as http:
        assert http.post(server.url(host=NAME), content=b"{}").status_code == 200
    assert len(server.requests) == 1


def test_redirects_are_returned_not_followed(server):
    with addresses.client(timeout=5, allow_private=True) as http:
        answer = http.post(server.url("/redirect"), content=b"{}")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/elsewhere"
    assert server.requests == [("POST", "/redirect", f"127.0.0.1:{server.port}")]


def test_proxies_from_the_environment_are_ignored(server, monkeypatch):
    # A proxy would connect wherever it likes, past the transport's checks; this one does not
    # exist, so a request routed through it would fail.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with addresses.client(timeout=5, allow_private=True) as http:
        assert http.post(server.url(), content=b"{}").status_code == 200
    assert len(server.requests) == 1


# client: TLS verifies the certificate against the hostname, not the IP


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[int, list[str | None]]]:
    """A TLS listener on 127.0.0.1 with a self-signed certificate for NAME; it records the
    SNI each handshake names."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert)),
            *("-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _context: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        # The client aborts the handshake: it does not trust this certificate.
        with conn, contextlib.suppress(ssl.SSLError, OSError):
            context.wrap_socket(conn, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], names
    listener.close()
    thread.join(5)


def test_tls_names_the_hostname_and_verifies_the_certificate(tls_server):
    port, names = tls_server
    resolve = resolver_to("127.0.0.1")
    with (
        addresses.client(timeout=5, allow_private=True, resolve=resolve) as http,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED") as caught,
    ):
        http.get(f"https://{NAME}:{port}/")
    assert not isinstance(caught.value, RefusedConnection)
    assert names == [NAME]  # SNI is the hostname though the socket went to 127.0.0.1
