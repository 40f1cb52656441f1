from django.urls import path

from labs import views

app_name = "labs"
urlpatterns = [
    path("", views.lab_list, name="list"),
    path("submissions/<int:submission_id>/", views.submission_detail, name="submission"),
    path("<slug:slug>/", views.lab_detail, name="detail"),
]
