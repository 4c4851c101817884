"""Urgency reads as its level and word in a coloured label, in lists, filters, forms and the dashboard."""

from bloodbank import display
from bloodbank.models import BloodRequest
from healthsync.display import readable_column


def test_urgency_reads_as_its_level_and_word_in_a_coloured_label():
    assert [text for _, text in display.urgency_choices()] == [
        "1 — routine",
        "2 — soon",
        "3 — priority",
        "4 — urgent",
        "5 — emergency",
    ]
    assert display.urgency_label(5) == '<span class="urgency-label urgency-5">5 — emergency</span>'
    assert display.urgency_text(9) == "9" and display.urgency_label(None) == ""


def test_change_lists_show_the_label_in_place_of_the_number():
    column = readable_column(BloodRequest, "urgency")
    assert column(BloodRequest(urgency=4)) == '<span class="urgency-label urgency-4">4 — urgent</span>'
