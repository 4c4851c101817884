"""GET /api/notifications and mark-read: each user sees and changes only their own inbox."""

import pytest
from django.db.models import Q

from notifications import services

pytestmark = pytest.mark.django_db


def _alert(key, users):
    return services.alert_raise(
        kind="expired",
        title=f"Alert {key}",
        body="b",
        severity="info",
        event_key=key,
        audience=Q(pk__in=[u.pk for u in users]),
        groups=[],
    )


def test_inbox_lists_own_notifications_newest_first_and_marks_read(api, bob, carol):
    first, second = _alert("k1", [bob, carol]), _alert("k2", [bob])
    client = api(bob)
    listed = client.get("/api/notifications").json()
    assert listed["count"] == 2
    assert [row["id"] for row in listed["results"]] == [second.pk, first.pk]
    assert {"id", "kind", "title", "body", "severity", "created", "read_at"} <= set(listed["results"][0])
    notification_id = listed["results"][0]["notification_id"]
    assert client.post(f"/api/notifications/{notification_id}/read").json() == {"marked_read": 1}
    assert client.get("/api/notifications?unread=true").json()["count"] == 1
    assert client.get(f"/api/notifications?after={first.pk}").json()["count"] == 1
    assert client.post("/api/notifications/read-all").json() == {"marked_read": 1}


def test_someone_elses_notification_is_not_found(api, bob, carol):
    _alert("k3", [carol])
    carols = api(carol).get("/api/notifications").json()["results"][0]["notification_id"]
    assert api(bob).post(f"/api/notifications/{carols}/read").status_code == 404
    assert api(bob).get("/api/notifications").json()["count"] == 0
    assert api(carol).get("/api/notifications?unread=1").json()["count"] == 1
