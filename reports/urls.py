from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.my_reports, name="mine"),
    path("<int:report_id>/", views.report_detail, name="detail"),
    path("new/question/<slug:slug>/", views.report_question, name="new_question"),
    path("new/attempt/<int:attempt_id>/<int:question_id>/", views.report_review, name="new_review"),
    path("new/card/<int:card_id>/", views.report_card, name="new_card"),
    path("queue/", views.report_queue, name="queue"),
    path("queue/<int:report_id>/", views.report_staff, name="staff"),
]
