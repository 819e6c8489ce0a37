"""Encrypt secrets at rest (tenant passwords, keys awaiting their reveal) with Fernet."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"controlplane provisioning secrets v1"


class DecryptionError(Exception):
    """Raise when a stored secret cannot be decrypted with the configured keys."""


def _fernet_for(material: str) -> Fernet:
    # HKDF turns any long-enough setting into the 32-byte key Fernet needs.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _cipher() -> MultiFernet:
    materials = [
        settings.PROVISIONING_ENCRYPTION_KEY,
        settings.PROVISIONING_ENCRYPTION_KEY_PREVIOUS,
    ]
    return MultiFernet([_fernet_for(m) for m in materials if m])


def encrypt_secret(plaintext: str) -> str:
    """Return `plaintext` encrypted with the current key (URL-safe text)."""
    return _cipher().encrypt(plaintext.encode()).decode()


def decrypt_secret(ciphertext: str) -> str:
    """Return the plaintext of `ciphertext`, trying the current key then the previous one."""
    try:
        return _cipher().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored secret could not be decrypted: PROVISIONING_ENCRYPTION_KEY changed?"
        ) from None
