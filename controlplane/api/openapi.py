"""Describe our JWT authentication in the OpenAPI document (a bearer JWT, like simplejwt's)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class ControlPlaneJWTScheme(SimpleJWTScheme):
    target_class = "controlplane.api.auth.JWTAuthentication"
    name = "jwtAuth"
