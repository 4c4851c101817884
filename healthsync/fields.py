"""Personal data fields, declared once.

Every model that stores personal data (names of patients, contact details,
addresses, patient references, DICOM identifiers) uses these fields, so the
database holds Fernet ciphertext only. Keys come from the environment
(``HEALTHSYNC_FIELD_ENCRYPTION_KEYS``, see settings). Encrypted columns cannot
be searched or ordered by the database: keep search keys elsewhere.
"""

import base64
import functools

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.utils.functional import cached_property
from encrypted_fields.fields import EncryptedCharField, EncryptedDateField, EncryptedFieldMixin, EncryptedTextField

# The constant keys the development modes used before they generated their own into var/ (settings):
# data written under them stays readable there, never in production.
_OLD_DEVELOPMENT_KEYS = (
    "healthsync-embedded-development-key-not-for-production-use-0123456789",  # SECRET_KEY
    "healthsync-embedded-development-field-key",  # HEALTHSYNC_FIELD_ENCRYPTION_KEYS
)


@functools.cache
def _old_development_key() -> bytes:
    secret, salt = _OLD_DEVELOPMENT_KEYS  # derived as the library derives its keys
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt.encode(), iterations=100_000)
    return base64.urlsafe_b64encode(kdf.derive(secret.encode()))


class _Nullable(EncryptedFieldMixin):
    # The library stores an empty value as NULL, so every personal field must allow NULL.
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    @cached_property
    def keys(self) -> list[bytes]:
        """The library's keys (the first encrypts, all decrypt), then the old development key for reading."""
        keys = super().keys
        return [*keys, _old_development_key()] if settings.HEALTHSYNC_READ_OLD_DEVELOPMENT_KEYS else keys


class PersonalCharField(_Nullable, EncryptedCharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 255)
        super().__init__(*args, **kwargs)


class PersonalTextField(_Nullable, EncryptedTextField):
    pass


class PersonalDateField(_Nullable, EncryptedDateField):
    pass
