"""HTTP routes of the provisioning app (included at the site root by controlplane.urls)."""

from django.urls import URLPattern, path

from provisioning.api import TokenExchangeView

urlpatterns: list[URLPattern] = [
    path("api/auth/token", TokenExchangeView.as_view(), name="auth-token"),
]
