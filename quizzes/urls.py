from django.urls import path

from quizzes import attempt_views, views

app_name = "quizzes"
urlpatterns = [
    path("questions/", views.question_list, name="list"),
    path("questions/<slug:slug>/", views.question_detail, name="detail"),
    path("questions/<slug:slug>/<slug:key>/answer/", views.part_answer, name="answer"),
    path("quizzes/", attempt_views.quiz_list, name="quizzes"),
    path("quizzes/history/", attempt_views.history, name="history"),
    path("quizzes/new/", attempt_views.quiz_create, name="create"),
    path("quizzes/drill-tag/<str:tag>/", attempt_views.drill_tag_quiz, name="drill_tag"),
    path("quizzes/<slug:slug>/", attempt_views.quiz_detail, name="quiz"),
    path("quizzes/<slug:slug>/start/", attempt_views.quiz_start, name="start"),
    path("quizzes/<slug:slug>/edit/", attempt_views.quiz_edit, name="edit"),
    path("quizzes/<slug:slug>/duplicate/", attempt_views.quiz_duplicate_view, name="duplicate"),
    path("quizzes/<slug:slug>/archive/", attempt_views.quiz_archive_view, name="archive"),
    path("quizzes/<slug:slug>/delete/", attempt_views.quiz_delete_view, name="delete"),
    path("attempts/<int:attempt_id>/", attempt_views.attempt_take, name="attempt"),
    path("attempts/<int:attempt_id>/answers/<int:part_id>/", attempt_views.answer_autosave, name="autosave"),
    path("attempts/<int:attempt_id>/answers/<int:part_id>/check/", attempt_views.answer_practice_check,
         name="check"),
    path("attempts/<int:attempt_id>/submit/", attempt_views.attempt_submit_view, name="submit"),
    path("attempts/<int:attempt_id>/review/", attempt_views.attempt_review, name="review"),
]
