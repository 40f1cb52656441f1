from django.contrib.auth import views as auth_views
from django.urls import path

from cohorts import account_views as av
from cohorts import grading_views as gv
from cohorts import instructor_views as iv
from cohorts import lab_views as lv
from cohorts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("join/", views.join, name="join"),
    # the learner's own account: API tokens for the CLI
    path("account/", av.account, name="account"),
    path("account/tokens/", av.account_token_create, name="account_token_create"),
    path("account/tokens/<int:token_id>/revoke/", av.account_token_revoke, name="account_token_revoke"),
    # the instructor's workspace
    path("cohorts/", iv.cohort_list, name="cohort_list"),
    path("cohorts/new/", iv.cohort_new, name="cohort_new"),
    path("cohorts/<int:cohort_id>/", iv.cohort_page, name="cohort"),
    path("cohorts/<int:cohort_id>/roster/", iv.cohort_roster, name="cohort_roster"),
    path("cohorts/<int:cohort_id>/rename/", iv.cohort_rename, name="cohort_rename"),
    path("cohorts/<int:cohort_id>/invite/", iv.cohort_rotate_invite, name="cohort_rotate_invite"),
    path("cohorts/<int:cohort_id>/instructors/", iv.cohort_add_instructor, name="cohort_add_instructor"),
    path("cohorts/<int:cohort_id>/enrol/", iv.cohort_enrol, name="cohort_enrol"),
    path("cohorts/<int:cohort_id>/students/<int:user_id>/remove/", iv.cohort_remove_student,
         name="cohort_remove_student"),
    path("cohorts/<int:cohort_id>/students/<int:user_id>/multiplier/", iv.cohort_set_multiplier,
         name="cohort_set_multiplier"),
    path("cohorts/<int:cohort_id>/export.csv", iv.cohort_export_csv, name="cohort_export_csv"),
    path("cohorts/<int:cohort_id>/responses.csv", iv.cohort_responses_csv, name="cohort_responses_csv"),
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/", iv.quiz_gradebook, name="quiz_gradebook"),
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/extension/", iv.quiz_extension, name="quiz_extension"),
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/extra-attempts/", iv.quiz_extra_attempts,
         name="quiz_extra_attempts"),
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/attempts/<int:attempt_id>/reopen/", iv.attempt_reopen,
         name="attempt_reopen"),
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/attempts/<int:attempt_id>/close/", iv.attempt_close,
         name="attempt_close"),
    path("cohorts/<int:cohort_id>/attempts/<int:attempt_id>/", iv.attempt_view, name="cohort_attempt"),
    path("cohorts/<int:cohort_id>/labs/<slug:lab_slug>/", lv.cohort_lab, name="cohort_lab"),
    path("cohorts/<int:cohort_id>/submissions/<int:submission_id>/", lv.cohort_submission,
         name="cohort_submission"),
    # what the answers say, and grade corrections
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/parts/<int:part_id>/", gv.part_report, name="part_report"),
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/parts/<int:part_id>/answers/", gv.part_answers,
         name="part_answers"),
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/parts/<int:part_id>/regrade/", gv.part_regrade,
         name="part_regrade"),
    path("cohorts/<int:cohort_id>/quizzes/<slug:slug>/grading/", gv.grading_queue, name="grading_queue"),
    path("cohorts/<int:cohort_id>/answers/<int:answer_id>/", gv.answer_by_hand, name="answer_by_hand"),
]
