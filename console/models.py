"""Rollups of finished jobs, kept by the recurring `console.rollup` job for the dashboard's charts.

Each row counts the jobs of one type that ended (completed or failed) in one minute or hour,
within one run-time bucket (see `console.rollup.DURATION_EDGES`): counts per bucket are what
the run-time percentiles are estimated from, so the charts never scan the jobs table.
"""

from __future__ import annotations

from django.db import models


class JobRollupBase(models.Model):
    type = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    # width_bucket() of the run time over DURATION_EDGES: 0 below the first edge.
    duration_bucket = models.SmallIntegerField()
    count = models.IntegerField()
    seconds = models.FloatField(help_text="Sum of the run times, in seconds.")

    class Meta:
        abstract = True


class JobMinute(JobRollupBase):
    """Jobs that ended in one minute (kept a couple of hours, for the last-hour chart)."""

    minute = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "type", "status", "duration_bucket"],
                name="jobminute_bucket_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.minute:%H:%M} {self.type} {self.status}: {self.count}"


class JobHour(JobRollupBase):
    """Jobs that ended in one hour (kept for days, for the 24-hour chart and percentiles)."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "type", "status", "duration_bucket"],
                name="jobhour_bucket_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.type} {self.status}: {self.count}"


class BackupHour(models.Model):
    """Backups made in one hour: how many and their bytes (the backup-bytes chart sums days)."""

    hour = models.DateTimeField(unique=True)
    count = models.IntegerField()
    bytes = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h: {self.count} backups, {self.bytes} bytes"
