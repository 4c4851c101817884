"""Personal data fields hold ciphertext in the database."""

import pytest
from django.db import connection

from healthsync.models import User

pytestmark = pytest.mark.django_db


def test_phone_number_column_holds_ciphertext(dave):
    dave.phone_number = "+44 7700 900456"
    dave.save()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT phone_number FROM {User._meta.db_table} WHERE id = %s", [dave.pk])
        raw = cursor.fetchone()[0]
    assert raw and "7700" not in raw
    assert raw.startswith("gAAAAA")  # a Fernet token
    assert User.objects.get(pk=dave.pk).phone_number == "+44 7700 900456"
