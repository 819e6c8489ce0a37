"""HTTP routes of the backfill app (included at the site root by controlplane.urls)."""

from django.urls import URLPattern, path

from backfill import api

urlpatterns: list[URLPattern] = [
    path(
        "api/internal/seed-backfill-queue",
        api.SeedBackfillQueueView.as_view(),
        name="backfill-seed",
    ),
    path(
        "api/internal/schedule-backfill",
        api.ScheduleBackfillView.as_view(),
        name="backfill-schedule",
    ),
    path("api/internal/backfill-stats", api.BackfillStatsView.as_view(), name="backfill-stats"),
]
