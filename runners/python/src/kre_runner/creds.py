"""NATS user credentials (`KRT_NATS_CREDS`, a `.creds` file) for nats-py's JWT authentication.

nats-py signs the server's nonce with the `nkeys` package, which PyPI serves only as a source
distribution; the runner's environments are built from wheels only, so the signature is made here
with PyNaCl (the library `nkeys` itself wraps): the seed is nkeys' base32 encoding of a two-byte
prefix, the 32-byte Ed25519 seed and a CRC-16 (XMODEM), and the signature goes out base64-encoded,
as nats-py sends it. The file is read at each (re)connect, so replaced credentials take effect.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import nacl.signing

_JWT = re.compile(rb"-----BEGIN NATS USER JWT-----\s*(\S+)\s*------END NATS USER JWT------")
_SEED = re.compile(rb"-----BEGIN USER NKEY SEED-----\s*(\S+)\s*------END USER NKEY SEED------")


class CredentialsError(ValueError):
    """The credentials file is not one NATS issued."""


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    text = seed.decode("ascii")
    raw = base64.b32decode(text + "=" * (-len(text) % 8))
    body, checksum = raw[:-2], int.from_bytes(raw[-2:], "little")
    if len(body) != 34 or _crc16(body) != checksum or not text.startswith("SU"):
        raise CredentialsError("the credentials' user seed is not a valid nkey seed")
    return nacl.signing.SigningKey(body[2:])


def jwt_of(path: str) -> bytes:
    match = _JWT.search(_read(path))
    if not match:
        raise CredentialsError(f"{path} holds no NATS user JWT")
    return match.group(1)


def sign_nonce(path: str, nonce: str) -> bytes:
    match = _SEED.search(_read(path))
    if not match:
        raise CredentialsError(f"{path} holds no user nkey seed")
    signed = _signing_key(match.group(1)).sign(nonce.encode()).signature
    return base64.b64encode(signed)


def credentials_callbacks(path: str) -> tuple[Callable[[], bytes], Callable[[str], bytes]]:
    """`user_jwt_cb` and `signature_cb` for `nats.connect`."""
    return (lambda: jwt_of(path)), (lambda nonce: sign_nonce(path, nonce))
