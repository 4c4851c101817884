"""Personal data fields, declared once.

Every model that stores personal data (names of patients, contact details,
addresses, patient references, DICOM identifiers) uses these fields, so the
database holds Fernet ciphertext only. Keys come from the environment
(``HEALTHSYNC_FIELD_ENCRYPTION_KEYS``, see settings). Encrypted columns cannot
be searched or ordered by the database: keep search keys elsewhere.
"""

from encrypted_fields.fields import EncryptedCharField, EncryptedDateField, EncryptedTextField


class _Nullable:
    # The library stores an empty value as NULL, so every personal field must allow NULL.
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)


class PersonalCharField(_Nullable, EncryptedCharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 255)
        super().__init__(*args, **kwargs)


class PersonalTextField(_Nullable, EncryptedTextField):
    pass


class PersonalDateField(_Nullable, EncryptedDateField):
    pass
