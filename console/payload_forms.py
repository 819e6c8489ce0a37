"""Forms for "Run a job…": a Django form built from a handler's DRF payload serializer.

Each serializer field becomes the form field that edits it (its widget, required flag,
limits and choices); a field with no form equivalent (lists, dicts, nested serializers)
and a type without a serializer get a JSON text box. The form only shapes input: the
handler's serializer (HandlerSpec.validate, via enqueue_job) stays the one validator.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from rest_framework import fields as drf

from controlplane.models import Project
from jobs.registry import HandlerSpec, registered_types

# A type with no payload serializer gets this one field (the whole payload as JSON).
WHOLE_PAYLOAD = "payload"
JSON_HELP = "JSON."


def _common(field: drf.Field) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "required": bool(field.required),
        "label": field.label or None,
        "help_text": field.help_text or "",
    }
    if field.default is not drf.empty and not callable(field.default):
        kwargs["initial"] = field.default
    elif field.initial not in (None, "", drf.empty) and not callable(field.initial):
        kwargs["initial"] = field.initial
    return kwargs


def _char(cls: type[forms.CharField]) -> Callable[[Any, dict[str, Any]], forms.Field]:
    def build(field: Any, kwargs: dict[str, Any]) -> forms.Field:
        kwargs = {**kwargs, "max_length": field.max_length, "min_length": field.min_length}
        if getattr(field, "style", {}).get("input_type") == "password":
            kwargs["widget"] = forms.PasswordInput(render_value=False)
        if getattr(field, "style", {}).get("base_template") == "textarea.html":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 3})
        return cls(**kwargs)

    return build


def _number(cls: Any) -> Callable[[Any, dict[str, Any]], forms.Field]:
    def build(field: Any, kwargs: dict[str, Any]) -> forms.Field:
        return cls(**kwargs, min_value=field.min_value, max_value=field.max_value)

    return build


def _boolean(field: Any, kwargs: dict[str, Any]) -> forms.Field:
    if getattr(field, "allow_null", False):
        return forms.NullBooleanField(**{**kwargs, "required": False})
    # A checkbox cannot be "required" (unticked means False, which the serializer gets).
    return forms.BooleanField(**{**kwargs, "required": False})


def _choice(field: Any, kwargs: dict[str, Any]) -> forms.Field:
    choices = [(k, v) for k, v in field.choices.items()]
    if isinstance(field, drf.MultipleChoiceField):
        return forms.MultipleChoiceField(**kwargs, choices=choices)
    if not kwargs["required"]:
        choices = [("", "---------"), *choices]
    return forms.ChoiceField(**kwargs, choices=choices)


def _date(cls: type[forms.Field], input_type: str) -> Callable[[Any, dict[str, Any]], forms.Field]:
    def build(field: Any, kwargs: dict[str, Any]) -> forms.Field:
        widget = forms.DateInput if cls is forms.DateField else forms.TextInput
        return cls(**kwargs, widget=widget(attrs={"type": input_type}))

    return build


def _json(field: Any, kwargs: dict[str, Any]) -> forms.Field:
    help_text = kwargs.pop("help_text") or JSON_HELP
    return forms.JSONField(
        **kwargs, help_text=help_text, widget=forms.Textarea(attrs={"rows": 4, "cols": 60})
    )


# Most specific first: EmailField is a CharField, MultipleChoiceField a ChoiceField...
_BUILDERS: list[tuple[type[drf.Field], Callable[[Any, dict[str, Any]], forms.Field]]] = [
    (drf.EmailField, _char(forms.EmailField)),
    (drf.URLField, lambda f, kw: forms.URLField(**kw, assume_scheme="https")),
    (drf.SlugField, _char(forms.SlugField)),
    (drf.UUIDField, lambda f, kw: forms.UUIDField(**kw)),
    (drf.IPAddressField, lambda f, kw: forms.GenericIPAddressField(**kw)),
    (drf.RegexField, _char(forms.CharField)),
    (drf.CharField, _char(forms.CharField)),
    (drf.IntegerField, _number(forms.IntegerField)),
    (drf.FloatField, _number(forms.FloatField)),
    (drf.DecimalField, _number(forms.DecimalField)),
    (drf.BooleanField, _boolean),
    (drf.FilePathField, _choice),
    (drf.ChoiceField, _choice),
    (drf.DateTimeField, _date(forms.DateTimeField, "datetime-local")),
    (drf.DateField, _date(forms.DateField, "date")),
    (drf.TimeField, _date(forms.TimeField, "time")),
]


def form_field(field: drf.Field) -> forms.Field:
    """Return the Django form field that edits DRF serializer field `field` (JSON if none)."""
    kwargs = _common(field)
    for drf_class, build in _BUILDERS:
        if isinstance(field, drf_class):
            return build(field, kwargs)
    return _json(field, kwargs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    return value


class PayloadForm(forms.Form):
    """The payload of one job type, one form field per serializer field."""

    def __init__(self, *args: Any, spec: HandlerSpec, **kwargs: Any) -> None:
        kwargs["prefix"] = "payload"
        super().__init__(*args, **kwargs)
        self.spec = spec
        if spec.payload is None:
            self.fields[WHOLE_PAYLOAD] = forms.JSONField(
                label="Payload",
                initial={},
                help_text="A JSON object (this type declares no payload serializer).",
                widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
            )
            return
        for name, field in spec.payload().fields.items():
            if field.read_only or isinstance(field, drf.HiddenField):
                continue
            self.fields[name] = form_field(field)
            if name in spec.sensitive:
                self.fields[name].widget = forms.PasswordInput(render_value=False)

    def payload(self) -> Any:
        """Return the payload to validate: filled fields only, as JSON values."""
        data = self.cleaned_data
        if self.spec.payload is None:
            return data.get(WHOLE_PAYLOAD)
        payload: dict[str, Any] = {}
        for name, field in self.fields.items():
            value = data.get(name)
            if isinstance(field, forms.BooleanField) or value not in (None, "", [], {}):
                payload[name] = _jsonable(value)
        return payload

    def add_payload_errors(self, errors: dict[str, list[str]]) -> None:
        """Attach HandlerSpec.validate's errors (`payload.<field>`) to their fields."""
        for key, messages in errors.items():
            name = key.removeprefix("payload.")
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message if target else f"{key}: {message}")


class PickTypeForm(forms.Form):
    type = forms.ChoiceField(label="Job type", choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(t, t) for t in registered_types()]


class RunOptionsForm(forms.Form):
    """What the job runs for and why (not part of the payload)."""

    project = forms.CharField(
        label="Project slug",
        required=False,
        max_length=40,
        help_text="Optional: the project the job belongs to (shown on its page and lists).",
    )
    priority = forms.IntegerField(
        initial=0, min_value=-100, max_value=100, help_text="Higher runs first."
    )
    reason = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Optional; recorded in the audit log.",
    )

    def clean_project(self) -> Project | None:
        slug = self.cleaned_data["project"].strip()
        if not slug:
            return None
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise forms.ValidationError(f"No project {slug!r}.")
        return project
