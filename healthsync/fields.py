"""Personal data fields, declared once.

Every model that stores personal data (names of patients, contact details,
addresses, patient references, DICOM identifiers) uses these fields, so the
database holds Fernet ciphertext only. Keys come from the environment
(``HEALTHSYNC_FIELD_ENCRYPTION_KEYS``, see settings). Encrypted columns cannot
be searched or ordered by the database: keep search keys elsewhere.
"""

from encrypted_fields.fields import EncryptedCharField, EncryptedDateField, EncryptedTextField


class PersonalCharField(EncryptedCharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 255)
        super().__init__(*args, **kwargs)


class PersonalTextField(EncryptedTextField):
    pass


class PersonalDateField(EncryptedDateField):
    pass
