from django.urls import path

from . import views

app_name = "drills"
urlpatterns = [
    path("", views.review, name="review"),
    path("settings/", views.settings_save, name="settings"),
    path("progress/", views.progress, name="progress"),
    path("cards/<int:card_id>/check/", views.card_check, name="check"),
    path("cards/<int:card_id>/rate/", views.card_rate, name="rate"),
    path("decks/<slug:slug>/export.<str:fmt>", views.deck_export, name="export"),
]
