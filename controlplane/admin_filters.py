"""List filters shared by the admins: a project picked by typing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from controlplane.models import Project


def project_filter_media(model: type[Model], admin_site: admin.AdminSite) -> forms.Media:
    """Return the scripts ProjectFilter needs on `model`'s change list (jQuery, select2)."""
    return AutocompleteSelect(model._meta.get_field("project"), admin_site).media


class ProjectAutocomplete(AutocompleteSelect):
    """The admin's autocomplete box, with a hint in it (Django leaves its placeholder empty)."""

    def build_attrs(
        self, base_attrs: dict[str, Any], extra_attrs: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs["data-placeholder"] = "Type a slug or a name"
        return attrs


class ProjectFilter(admin.ListFilter):
    """Pick one project by typing (the admin's own autocomplete), not from a thousand links.

    For any model with a `project` foreign key; its admin adds `project_filter_media()`.
    """

    title = "project"
    parameter_name = "project__id__exact"
    template = "admin/includes/project_filter.html"

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        self.admin_site = model_admin.admin_site
        self.field = model._meta.get_field("project")
        self.value: int | None = None
        self.error = ""
        if self.parameter_name in params:
            raw = params.pop(self.parameter_name)[-1]
            self.used_parameters[self.parameter_name] = raw
            try:
                self.value = int(raw)
            except ValueError:
                self.error = f"Not a project id: {raw!r}."

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_name]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(project_id=self.value) if self.value is not None else queryset

    def widget_html(self) -> str:
        field = forms.ModelChoiceField(
            queryset=Project.objects.all(),
            required=False,
            widget=ProjectAutocomplete(self.field, self.admin_site, attrs={"style": "width:100%"}),
        )
        html = field.widget.render("project-filter", self.value, attrs={"id": "project-filter"})
        return str(html)

    # Our templates take their own keys, not the stock filter's (selected, query_string…).
    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        yield {
            "widget": self.widget_html(),
            "error": self.error,
            "selected": self.value is not None,
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
            "base_url": changelist.get_query_string(remove=[self.parameter_name]),
            "parameter": self.parameter_name,
        }
