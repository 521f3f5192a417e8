from django.urls import path

from witness.compliance import views

urlpatterns = [
    path("compliance/dashboard/", views.compliance_dashboard, name="compliance_dashboard"),
    path("compliance/dashboard.csv", views.compliance_dashboard_csv,
         name="compliance_dashboard_csv"),
]
