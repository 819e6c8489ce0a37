"""The job list's filters and search: cheap at a million rows, one indexed lookup each."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

# Shared with the other admins; re-exported for the job admin.
from controlplane.admin_filters import ProjectAutocomplete as ProjectAutocomplete
from controlplane.admin_filters import ProjectFilter as ProjectFilter
from controlplane.models import Project
from jobs.models import Job
from jobs.registry import housekeeping_types, registered_types

HEX_PREFIX = re.compile(r"^[0-9a-f]{4,32}$")


def job_search(queryset: QuerySet[Job], term: str) -> QuerySet[Job]:
    """Filter by a job id, an id prefix (at least 4 hex digits, as the list shows 8), or a slug.

    A prefix becomes a range on the primary key (UUIDs sort by their bytes, so by their hex),
    an index range scan like the exact id.
    """
    term = term.strip().lower()
    try:
        return queryset.filter(pk=uuid.UUID(term))
    except ValueError:
        pass
    # A slug is resolved first, so the jobs are read through (project, created) in order.
    project_id = Project.objects.filter(slug=term).values_list("pk", flat=True).first()
    by_project = Q(project_id=project_id) if project_id is not None else None
    digits = term.replace("-", "")
    if HEX_PREFIX.match(digits):
        low = uuid.UUID(digits.ljust(32, "0"))
        high = uuid.UUID(digits.ljust(32, "f"))
        by_id = Q(pk__gte=low, pk__lte=high)
        # "cafe", "deadbeef"… are valid slugs too: then match either (both indexed).
        return queryset.filter(by_id | by_project if by_project else by_id)
    return queryset.filter(by_project) if by_project else queryset.none()


class TypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in registered_types()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(type=self.value()) if self.value() else queryset


def _parse_bound(raw: str) -> datetime | None:
    """Parse '2026-12-01', '2026-12-01 10:30' or '2026-12-01T10:30:15' as UTC."""
    raw = raw.strip()
    value = parse_datetime(raw.replace(" ", "T"))
    if value is None:
        day = parse_date(raw)
        if day is None:
            return None
        value = datetime(day.year, day.month, day.day)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value


class TimeRangeFilter(admin.ListFilter):
    """From/to inputs on one time column plus quick 'last hour / day / week' links."""

    field: ClassVar[str] = ""
    template = "admin/jobs/job/time_range_filter.html"
    QUICK = [("Last hour", timedelta(hours=1)), ("Last 24 h", timedelta(days=1))]
    QUICK += [("Last 7 days", timedelta(days=7))]

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        self.bounds: dict[str, datetime] = {}
        self.raw: dict[str, str] = {}
        self.errors: list[str] = []
        for name in (self.gte, self.lt):
            if name not in params:
                continue
            raw = params.pop(name)[-1]
            self.raw[name] = raw
            if not raw.strip():
                continue
            parsed = _parse_bound(raw)
            if parsed is None:
                self.errors.append(f"Not a date or time: {raw!r} (use YYYY-MM-DD HH:MM:SS, UTC).")
            else:
                self.bounds[name] = parsed
                self.used_parameters[name] = raw

    @property
    def gte(self) -> str:
        return f"{self.field}__gte"

    @property
    def lt(self) -> str:
        return f"{self.field}__lt"

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.gte, self.lt]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        lookups = {name: value for name, value in self.bounds.items()}
        return queryset.filter(**lookups) if lookups else queryset

    # Our templates take their own keys, not the stock filter's (selected, query_string…).
    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        now = timezone.now().replace(microsecond=0)
        mine = [self.gte, self.lt]
        hidden = [
            (key, value)
            for key, values in changelist.filter_params.items()
            if key not in mine
            for value in values
        ]
        yield {
            "gte_name": self.gte,
            "lt_name": self.lt,
            "gte": self.raw.get(self.gte, ""),
            "lt": self.raw.get(self.lt, ""),
            "errors": self.errors,
            "hidden": hidden,
            "active": bool(self.bounds),
            "clear_url": changelist.get_query_string(remove=mine),
            "quick": [
                (
                    label,
                    changelist.get_query_string(
                        {self.gte: (now - delta).strftime("%Y-%m-%d %H:%M:%S")},
                        remove=[self.lt],
                    ),
                )
                for label, delta in self.QUICK
            ],
        }


class CreatedFilter(TimeRangeFilter):
    title = "created (UTC)"
    field = "created_at"


class FinishedFilter(TimeRangeFilter):
    title = "finished (UTC)"
    field = "completed_at"


class HousekeepingFilter(admin.SimpleListFilter):
    """Hide (or show only) housekeeping runs, the recurring upkeep, with one click."""

    title = "housekeeping"
    parameter_name = "housekeeping"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("hide", "Hide housekeeping"), ("only", "Only housekeeping")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "hide":
            return queryset.exclude(type__in=housekeeping_types())
        if self.value() == "only":
            return queryset.filter(type__in=housekeeping_types())
        return queryset
