"""Where webhook endpoints may point: the platform POSTs from inside the cluster, so an
endpoint is a server-side request a user chooses (SSRF).

The rule, checked when an endpoint is registered and again before every delivery (DNS may
have changed meanwhile): http or https only, no credentials in the URL, and every address
the host resolves to must be public. Link-local (169.254.0.0/16 and fe80::/10, where cloud
metadata services live), multicast, unspecified and reserved addresses are always refused;
loopback only with ``WEBHOOK_ALLOW_LOOPBACK`` and private networks (10/8, 172.16/12,
192.168/16, fc00::/7) only with ``WEBHOOK_ALLOW_PRIVATE``. Hosts named in
``WEBHOOK_ALLOWED_HOSTS`` skip the address checks. Redirects are never followed. The
remaining gap, a DNS answer that changes between the check and the connection, is narrow
(milliseconds) and documented in the operations guide.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeUrl(ValueError):
    """The URL may not be used as a webhook endpoint; the message says why."""


def check_url(url: str, *, resolve: bool = True) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("Only http:// and https:// URLs are allowed.")
    if parts.username or parts.password:
        raise UnsafeUrl("Credentials in the URL are not allowed; use the secret.")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("The URL names no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("The port is not a number between 0 and 65535.") from None
    if host in settings.WEBHOOK_ALLOWED_HOSTS:
        return
    if not resolve:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl(f"The host {host} does not resolve.") from None
    for info in infos:
        _check_address(host, ipaddress.ip_address(info[4][0]))


def _check_address(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        raise UnsafeUrl(f"{host} resolves to {address}, a link-local or special address.")
    if address.is_loopback:
        if settings.WEBHOOK_ALLOW_LOOPBACK:
            return
        raise UnsafeUrl(f"{host} resolves to {address}, a loopback address.")
    if address.is_private:
        if settings.WEBHOOK_ALLOW_PRIVATE:
            return
        raise UnsafeUrl(f"{host} resolves to {address}, a private address.")
    if address.is_reserved or not address.is_global:
        raise UnsafeUrl(f"{host} resolves to {address}, which is not a public address.")
