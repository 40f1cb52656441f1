from django.urls import path

from quizzes import views

app_name = "quizzes"
urlpatterns = [
    path("", views.question_list, name="list"),
    path("<slug:slug>/", views.question_detail, name="detail"),
    path("<slug:slug>/<slug:key>/answer/", views.part_answer, name="answer"),
]
