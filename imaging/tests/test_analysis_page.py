"""The staff analysis page in the operations console."""

import io

import pytest
from django.test import Client

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
    assert (
        b"support, not replace" in page.content
        and b"pneumoniamnist-basic_cnn" in page.content
        and b"validation accuracy" in page.content
    )
    posted = client.post("/admin/imaging/analyse/", {"dataset": "pneumoniamnist", "image": [_png()]})
    assert posted.status_code == 302 and "batch=" in posted["Location"]
    analysis = ImageAnalysis.objects.get()
    assert analysis.status == "done"  # the inline worker ran it on commit
    detail = client.get(f"/admin/imaging/analyses/{analysis.pk}/")
    assert (
        detail.status_code == 200
        and b"Grad-CAM" in detail.content
        and analysis.predicted_class.encode() in detail.content
    )
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


def test_conditions_by_specialty_and_the_choice_kept_after_submit(bob):
    client = Client()
    client.login(email=bob.email, password=PASSWORD)
    page = client.get("/admin/imaging/analyse/").content.decode()
    assert '<optgroup label="Pulmonology">' in page and '<option value="pneumonia">Pneumonia</option>' in page
    assert 'value="glaucoma" disabled>Glaucoma (no model yet)' in page  # listed, not choosable
    assert (
        'value="pneumoniamnist-basic_cnn:1" data-condition="pneumonia"' in page
    )  # each model tagged with its condition
    posted = client.post(
        "/admin/imaging/analyse/", {"condition": "pneumonia", "model": "pneumoniamnist-basic_cnn:1", "image": [_png()]}
    )
    assert (
        posted.status_code == 302
        and "condition=pneumonia" in posted["Location"]
        and "model=pneumoniamnist-basic_cnn%3A1" in posted["Location"]
    )
    again = client.get(posted["Location"]).content.decode()
    assert '<option value="pneumonia" selected>' in again
    assert 'value="pneumoniamnist-basic_cnn:1" data-condition="pneumonia" selected' in again


def test_an_image_of_another_kind_is_refused_with_its_reason_and_the_choice_kept(bob):
    client = Client()
    client.login(email=bob.email, password=PASSWORD)
    grey = io.BytesIO(typical_png())
    grey.name = "grey.png"
    response = client.post("/admin/imaging/analyse/", {"condition": "diabetic-retinopathy", "image": [grey]})
    page = response.content.decode()
    assert response.status_code == 200 and "This is a grayscale image" in page and ImageAnalysis.objects.count() == 0
    assert '<option value="diabetic-retinopathy" selected>' in page


def test_an_invalid_batch_in_the_address_is_ignored(bob):
    client = Client()
    client.login(email=bob.email, password=PASSWORD)
    assert client.get("/admin/imaging/analyse/?batch=not-a-uuid").status_code == 200
