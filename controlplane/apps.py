from django.apps import AppConfig


class ControlplaneConfig(AppConfig):
    name = "controlplane"
    verbose_name = "Control plane"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from controlplane import lockout
        from controlplane.api import openapi  # noqa: F401  (registers the auth scheme)

        user_locked_out.connect(lockout.audit_lockout, dispatch_uid="controlplane.audit_lockout")
