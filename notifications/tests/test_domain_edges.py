"""Edges on the inbox's writes: ids beyond any database integer, and bodies that are ignored.

Marking read takes nothing but ids; an impossible id is a 404 in the error shape and nothing changes.
"""

import pytest
from django.db.models import Q

from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db
HUGE = 10**20


def _alert(key, users):
    return services.alert_raise(
        kind="expired",
        title=f"Alert {key} – Zoë Ñúñez-李 🩸",
        body="b",
        severity="info",
        event_key=key,
        audience=Q(pk__in=[u.pk for u in users]),
        groups=[],
    )


@pytest.mark.parametrize("notification_id", [0, 2**31, 2**63, HUGE])
def test_marking_an_impossible_id_read_is_a_404_and_changes_nothing(api, bob, notification_id):
    _alert("k1", [bob])
    response = api(bob).post(f"/api/notifications/{notification_id}/read")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message", "fields", "details"}
    assert Notification.objects.filter(read_at__isnull=False).count() == 0


def test_listing_after_an_id_past_every_alert_answers_empty(api, bob):
    _alert("k2", [bob])
    response = api(bob).get("/api/notifications", {"after": str(HUGE)})
    assert response.status_code == 200 and response.json()["count"] == 0


@pytest.mark.parametrize("after", ["-1", "1e9", "🩸"])
def test_listing_after_something_that_is_no_id_is_a_400_naming_it(api, bob, after):
    """Query numbers are whole numbers in ASCII digits (healthsync.params): anything else is refused, not ignored."""
    _alert("k2", [bob])
    response = api(bob).get("/api/notifications", {"after": after})
    assert response.status_code == 400 and "after" in response.json()["error"]["fields"]


def test_read_all_ignores_a_body_naming_other_inboxes(api, bob, carol):
    _alert("k3", [bob, carol])
    response = api(bob).post("/api/notifications/read-all", {"recipient": carol.pk, "ids": [HUGE, -1]}, format="json")
    assert response.status_code == 200 and response.json() == {"marked_read": 1}
    assert Notification.objects.get(recipient=carol).read_at is None
    title = api(bob).get("/api/notifications").json()["results"][0]["title"]
    assert title == "Alert k3 – Zoë Ñúñez-李 🩸"
