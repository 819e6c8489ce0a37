"""Top-level URLs: admin, API, schema and health probes."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from controlplane.api import views

handler500 = "controlplane.api.exceptions.handler500"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("api/auth/staff-token", views.StaffTokenView.as_view(), name="staff-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("jobs.urls")),
    path("", include("provisioning.urls")),
    path("", include("backups.urls")),
    path("", include("backfill.urls")),
    # Last: any other /api/ path answers 404 in the error envelope (in DEBUG too).
    re_path(r"^api/", views.api_not_found),
]
