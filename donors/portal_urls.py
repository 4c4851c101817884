"""The donor portal's pages (included at the site root: /donor/… and the public /shortages/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("donor/", views.home, name="portal-home"),
    path("donor/welcome/", views.welcome, name="portal-welcome"),
    path("donor/profile/", views.profile, name="portal-profile"),
    path("donor/book/", views.book, name="portal-book"),
    path("donor/book/<int:slot_id>/", views.book_slot, name="portal-book-slot"),
    path("donor/appointments/<int:appointment_id>/cancel/", views.cancel_appointment, name="portal-cancel"),
    path("donor/history/", views.history, name="portal-history"),
    path("donor/inbox/", views.inbox, name="portal-inbox"),
    path("shortages/", views.shortages, name="shortages"),
]
