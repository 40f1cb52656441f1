from django.urls import path

from labs import views

app_name = "labs"
urlpatterns = [
    path("", views.lab_list, name="list"),
    path("submissions/<int:submission_id>/", views.submission_detail, name="submission"),
    path("submissions/reviews/", views.speed_reviews, name="speed_reviews"),
    path("submissions/<int:submission_id>/review/", views.speed_review, name="speed_review"),
    path("<slug:slug>/", views.lab_detail, name="detail"),
    path("<slug:slug>/draft/", views.draft_autosave, name="draft"),
]
