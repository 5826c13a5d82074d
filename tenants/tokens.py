"""API token format: ``rpt_`` + 32 base62 characters + a 6-character base62 CRC32 checksum.

Like GitHub's and Sentry's tokens: the prefix lets secret scanners find leaked tokens, the
checksum lets them (and us, before any database work) tell a real token from a random string
offline. 32 base62 characters carry 190 bits of entropy. Only a SHA-256 hash is stored, with a
short visible prefix and the last characters so operators can tell tokens apart.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib

PREFIX = "rpt_"
ALPHABET = string.digits + string.ascii_letters  # base62
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
VISIBLE_PREFIX_LENGTH = len(PREFIX) + 8
TOKEN_RE = re.compile(rf"^{PREFIX}[0-9A-Za-z]{{{BODY_LENGTH + CHECKSUM_LENGTH}}}\Z")


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return f"{PREFIX}{body}{checksum(body)}"


def is_well_formed(raw: str) -> bool:
    """Format and checksum only: no database work, so garbage costs nothing."""
    if not TOKEN_RE.match(raw):
        return False
    body, check = raw[len(PREFIX) : -CHECKSUM_LENGTH], raw[-CHECKSUM_LENGTH:]
    return secrets.compare_digest(checksum(body), check)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def visible_prefix(raw: str) -> str:
    return raw[:VISIBLE_PREFIX_LENGTH]
