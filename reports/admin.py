from django.contrib import admin

from healthsync.permissions import can_anywhere

from .views import reports_page

admin.site.register_view("reports/", reports_page, name="reports", title="Reports")
admin.site.register_view("reports/<slug:name>/", reports_page, name="report", title="Report", linked=False)


@admin.site.register_panel
def reports_panel(request):
    if not (request.user.is_superuser or can_anywhere(request.user)):
        return None
    return {"title": "Reports", "template": "admin/reports/panel.html"}
