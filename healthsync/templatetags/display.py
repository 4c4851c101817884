"""``{% load display %}``: the filters of ``healthsync.display`` (one date and time format)."""

from django import template

from healthsync import display

register = template.Library()

register.filter("when", display.when)
register.filter("use_by", display.use_by)
