"""``{% load display %}``: the filters of ``healthsync.display`` (one date, time and urgency format)."""

from django import template

from healthsync import display

register = template.Library()

register.filter("when", display.when)
register.filter("use_by", display.use_by)
register.filter("urgency", display.urgency_label)
