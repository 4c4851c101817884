"""``{% load urgency %}``: ``|urgency`` shows a level as its coloured label (bloodbank.display)."""

from django import template

from bloodbank.display import urgency_label

register = template.Library()

register.filter("urgency", urgency_label)
