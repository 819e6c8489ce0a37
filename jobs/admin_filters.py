"""List filters for job lists: hide (or show only) housekeeping runs with one click."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from jobs.registry import housekeeping_types


class HousekeepingFilter(admin.SimpleListFilter):
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
