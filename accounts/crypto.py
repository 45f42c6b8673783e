"""Encryption of upstream tokens at rest, and the wrapper that keeps a token out of sight.

Tokens are encrypted with MultiFernet: the first key of PORTAL_ENCRYPTION_KEYS encrypts, every key
decrypts, so keys can be rotated without downtime. A decrypted token only ever lives inside a
`Secret`, whose `str` and `repr` are masked, so an f-string, a log line or a traceback that touches
it shows `Secret('****1234')` instead of the token.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class Secret:
    """A token held in memory. Only `reveal()` returns the real value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str.")
        self._value = value

    def reveal(self) -> str:
        """The real token: call this only where it is sent upstream."""
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:]

    def __str__(self) -> str:
        return f"****{self.last4}" if len(self._value) >= 12 else "****"

    def __repr__(self) -> str:
        return f"Secret({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> str:  # pragma: no cover - the guard is the point
        # Pickling would put the token into a cache or session; refuse instead.
        raise TypeError("A Secret cannot be pickled.")


UNDECRYPTABLE = "The stored token cannot be decrypted with the current keys."


class DecryptionFailed(Exception):
    """The stored ciphertext does not open with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt(secret: Secret) -> str:
    """Ciphertext for storage (text, so it fits a TextField)."""
    return fernet().encrypt(secret.reveal().encode()).decode("ascii")


def decrypt(ciphertext: str) -> Secret:
    """Open ciphertext with any configured key; fails closed with DecryptionFailed."""
    try:
        return Secret(fernet().decrypt(ciphertext.encode("ascii")).decode())
    except (InvalidToken, ValueError, UnicodeError) as exc:
        raise DecryptionFailed(UNDECRYPTABLE) from exc


def encrypted_with_newest_key(ciphertext: str) -> bool:
    """Whether the newest key alone opens this ciphertext (so rotating would change nothing)."""
    try:
        Fernet(settings.ENCRYPTION_KEYS[0]).decrypt(ciphertext.encode("ascii"))
    except (InvalidToken, ValueError):
        return False
    return True


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key (the same plaintext, a new ciphertext)."""
    try:
        return fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError) as exc:
        raise DecryptionFailed(UNDECRYPTABLE) from exc


class EncryptedText(models.TextField):
    """A column holding only ciphertext from `encrypt` (never edited in forms or the admin).

    Every encrypted value in the portal is stored in one of these, so `rotate_encryption_keys`
    finds them all by this class (and a test fails if ciphertext is stored anywhere else).
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
