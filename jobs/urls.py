"""HTTP routes of the jobs app (included at the site root by controlplane.urls)."""

from django.urls import path

from jobs.api import JobDetailView

urlpatterns = [
    path("api/jobs/<str:job_id>", JobDetailView.as_view(), name="job-detail"),
]
