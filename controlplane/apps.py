from django.apps import AppConfig


class ControlplaneConfig(AppConfig):
    name = "controlplane"
    verbose_name = "Control plane"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.core.signals import setting_changed
        from django.db.models.signals import post_migrate

        from controlplane import lockout, redaction, roles
        from controlplane.api import openapi  # noqa: F401  (registers the auth scheme)

        user_locked_out.connect(lockout.audit_lockout, dispatch_uid="controlplane.audit_lockout")
        setting_changed.connect(redaction.forget_secrets, dispatch_uid="controlplane.redaction")
        # Not limited to this app's signal: every app's permissions exist only after its own
        # post_migrate, so the groups are set again after each (idempotent, a few queries).
        post_migrate.connect(roles.sync_operator_groups, dispatch_uid="controlplane.roles")
