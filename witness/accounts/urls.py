"""URL patterns of the accounts pages and the administrators' consoles (issue 5 items 1, 6).
Each name is in witness.web.access.PAGES."""

from django.urls import path

from witness.accounts import views

urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change, name="password_change"),
    path("account/otp/verify/", views.otp_verify, name="otp_verify"),
    path("account/otp/enrol/", views.otp_enrol, name="otp_enrol"),
    path("admin/roles/", views.role_list, name="role_list"),
    path("admin/roles/assign/", views.role_assign, name="role_assign"),
    path("admin/roles/<int:pk>/end/", views.role_end, name="role_end"),
    path("admin/users/", views.user_list, name="user_list"),
    path("admin/users/<int:pk>/", views.user_settings, name="user_settings"),
]
