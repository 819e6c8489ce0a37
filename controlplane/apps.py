from django.apps import AppConfig


class ControlplaneConfig(AppConfig):
    name = "controlplane"
    verbose_name = "Control plane"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.core.signals import setting_changed

        from controlplane import lockout, redaction
        from controlplane.api import openapi  # noqa: F401  (registers the auth scheme)

        user_locked_out.connect(lockout.audit_lockout, dispatch_uid="controlplane.audit_lockout")
        setting_changed.connect(redaction.forget_secrets, dispatch_uid="controlplane.redaction")
