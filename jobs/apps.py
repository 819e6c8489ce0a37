from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        import jobs.engine.broker
        import jobs.engine.checks  # noqa: F401 (registers the qcluster check)
        from jobs.registry import autodiscover

        autodiscover()
