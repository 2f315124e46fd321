"""Encrypt settings stored in the database with a key derived from SECRET_KEY.

Fernet (the `cryptography` package): AES-128-CBC with an HMAC-SHA256, so a value cannot be
read or altered without the key. The key is HKDF-SHA256 of SECRET_KEY with a purpose label,
so it is not the key Flask signs sessions with.

Failure policy: no SECRET_KEY -> `VaultUnavailable` (nothing can be stored; the setup page
says to set it). A value that does not decrypt (SECRET_KEY changed, or the row was altered)
-> `VaultError` naming the setting, never the value; the caller treats the setting as unset.
"""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PURPOSE = b"okendo-bridge stored settings v1"


class VaultError(Exception):
    """A stored value cannot be decrypted."""


class VaultUnavailable(VaultError):
    """SECRET_KEY is not set, so nothing can be encrypted or decrypted."""


def _fernet_key(secret_key: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


class Vault:
    def __init__(self, secret_key: str | None):
        self._fernet = Fernet(_fernet_key(secret_key)) if secret_key else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def encrypt(self, value: str) -> str:
        return self._require().encrypt(value.encode()).decode()

    def decrypt(self, token: str, name: str = "a setting") -> str:
        try:
            return self._require().decrypt(token.encode()).decode()
        except InvalidToken:
            raise VaultError(f"{name} cannot be decrypted: SECRET_KEY changed since it was stored; "
                             "enter it again on the setup page") from None

    def _require(self) -> Fernet:
        if self._fernet is None:
            raise VaultUnavailable("SECRET_KEY is not set: settings cannot be stored in the database")
        return self._fernet
