from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        import jobs.broker  # noqa: F401 (connects the worker's delivery signal)
        from jobs.registry import autodiscover

        autodiscover()
