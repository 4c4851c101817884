"""The Celery pages of the console (task results and beat schedules; platform administrators) without their
server errors: results are written by the workers, never typed in; a task name or a crontab that is not
valid is a form error, not a 500. Imported by ``healthsync.admin``, after the Celery apps registered theirs."""

from celery.schedules import ParseException
from django.contrib import admin
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_results import admin as results_admin
from django_celery_results.models import GroupResult, TaskResult


class TaskResultAdmin(results_admin.TaskResultAdmin):
    def has_add_permission(self, request):
        return False  # the workers write results


class GroupResultAdmin(results_admin.GroupResultAdmin):
    def has_add_permission(self, request):
        return False


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    def clean(self):
        # A task name refused by its own field (too long) leaves no "task": the form's clean expects one.
        self.cleaned_data.setdefault("task", "")
        return super().clean()


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    form = PeriodicTaskForm


class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin):
    @admin.display(description="Human readable")
    def human_readable(self, schedule):
        """The schedule in words; a form shown again with values Celery cannot parse says so instead of failing."""
        try:
            return schedule.human_readable
        except (ValueError, ParseException):
            return "not a valid schedule"


for model, model_admin in [
    (TaskResult, TaskResultAdmin),
    (GroupResult, GroupResultAdmin),
    (PeriodicTask, PeriodicTaskAdmin),
    (CrontabSchedule, CrontabScheduleAdmin),
]:
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
