"""The staff analysis page in the operations console."""

import io

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from conftest import PASSWORD
from imaging.models import ImageAnalysis
from imaging.tests.images import typical_png

pytestmark = pytest.mark.django_db(transaction=True)


def _png():
    buffer = io.BytesIO(typical_png(seed=5))
    buffer.name = "chest.png"
    return buffer


def test_staff_upload_watch_read_and_confirm(bob, carol):
    client = Client()
    assert client.login(email=bob.email, password=PASSWORD)
    page = client.get("/admin/imaging/analyse/")
    assert page.status_code == 200
    assert b"support, not replace" in page.content and b"pneumoniamnist-basic_cnn" in page.content and b"validation accuracy" in page.content
    posted = client.post("/admin/imaging/analyse/", {"dataset": "pneumoniamnist", "image": [_png()]})
    assert posted.status_code == 302 and "batch=" in posted["Location"]
    analysis = ImageAnalysis.objects.get()
    assert analysis.status == "done"  # the inline worker ran it on commit
    detail = client.get(f"/admin/imaging/analyses/{analysis.pk}/")
    assert detail.status_code == 200 and b"Grad-CAM" in detail.content and analysis.predicted_class.encode() in detail.content
    client.post(f"/admin/imaging/analyses/{analysis.pk}/", {"confirmation": "agrees"})
    analysis.refresh_from_db()
    assert analysis.confirmation == "agrees" and analysis.confirmed_by == bob
    assert client.get("/admin/imaging/imageanalysis/").status_code == 200
    assert client.get("/admin/").content.count(b"Imaging queue") == 1

    other = Client()
    assert other.login(email=carol.email, password=PASSWORD)
    assert other.get(f"/admin/imaging/analyses/{analysis.pk}/").status_code == 404


def test_a_bad_upload_shows_a_message_and_queues_nothing(bob):
    client = Client()
    client.login(email=bob.email, password=PASSWORD)
    bad = io.BytesIO(b"not an image" * 20)
    bad.name = "x.png"
    response = client.post("/admin/imaging/analyse/", {"dataset": "pneumoniamnist", "image": [bad]}, follow=True)
    assert b"not a PNG, JPEG or DICOM" in response.content and ImageAnalysis.objects.count() == 0
