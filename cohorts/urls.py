from django.contrib.auth import views as auth_views
from django.urls import path

from cohorts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("join/", views.join, name="join"),
    path("cohorts/", views.dashboard, name="dashboard"),
]
