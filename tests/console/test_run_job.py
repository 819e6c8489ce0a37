""" "Run a job…": pick a type, a form built from its serializer, validation, audit, permission."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from rest_framework import serializers

from console.payload_forms import PayloadForm, form_field
from controlplane.models import AuditLog
from jobs.models import Job
from jobs.registry import get_handler
from tests import factories

pytestmark = pytest.mark.django_db

PICK = reverse("admin:console_run_job")
FORM = reverse("admin:console_run_job_type", args=["test.form"])
SECRET = "tok-0123456789-canary"


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def runner() -> Any:
    return factories.staff(perms=["jobs.view_job", "jobs.run_job"])


def filled(**overrides: Any) -> dict[str, Any]:
    data = {
        "payload-name": "nightly",
        "payload-count": "3",
        "payload-colour": "green",
        "payload-loud": "on",
        "payload-email": "ops@example.com",
        "payload-day": "2026-05-04",
        "payload-tags": '["a", "b"]',
        "payload-api_token": SECRET,
        "priority": "5",
        "reason": "checking the form",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("drf_field", "form_class"),
    [
        (serializers.CharField(), forms.CharField),
        (serializers.EmailField(), forms.EmailField),
        (serializers.UUIDField(), forms.UUIDField),
        (serializers.SlugField(), forms.SlugField),
        (serializers.URLField(), forms.URLField),
        (serializers.IntegerField(), forms.IntegerField),
        (serializers.FloatField(), forms.FloatField),
        (serializers.DecimalField(max_digits=5, decimal_places=2), forms.DecimalField),
        (serializers.BooleanField(), forms.BooleanField),
        (serializers.BooleanField(allow_null=True), forms.NullBooleanField),
        (serializers.ChoiceField(choices=["a"]), forms.ChoiceField),
        (serializers.MultipleChoiceField(choices=["a"]), forms.MultipleChoiceField),
        (serializers.DateField(), forms.DateField),
        (serializers.DateTimeField(), forms.DateTimeField),
        (serializers.ListField(child=serializers.IntegerField()), forms.JSONField),
        (serializers.DictField(), forms.JSONField),
        (serializers.JSONField(), forms.JSONField),
    ],
)
def test_form_field__maps_each_drf_field(drf_field: Any, form_class: type) -> None:
    assert type(form_field(drf_field)) is form_class


def test_form_field__keeps_limits_required_and_defaults() -> None:
    field = form_field(serializers.IntegerField(min_value=1, max_value=10, default=2))
    assert isinstance(field, forms.IntegerField)
    assert (field.min_value, field.max_value, field.required, field.initial) == (1, 10, False, 2)
    assert form_field(serializers.CharField(max_length=20)).max_length == 20


def test_payload_form__sensitive_field_is_a_password_box_never_rendered_back() -> None:
    form = PayloadForm(filled(), spec=get_handler("test.form"))
    html = str(form["api_token"])
    assert 'type="password"' in html and SECRET not in html


def test_payload_form__type_without_serializer_gets_one_json_box() -> None:
    form = PayloadForm({"payload-payload": '{"x": 1}'}, spec=get_handler("test.noop"))
    assert list(form.fields) == ["payload"]
    assert form.is_valid() and form.payload() == {"x": 1}


def test_run_job_pick__lists_registered_types_and_goes_to_the_form() -> None:
    client = login(runner())
    body = client.get(PICK).content.decode()
    assert '<option value="test.form">' in body and '<option value="test.echo">' in body
    response = client.post(PICK, {"type": "test.form"})
    assert response.status_code == 302 and response["Location"] == FORM


def test_run_job__form_has_a_field_per_serializer_field() -> None:
    body = login(runner()).get(FORM).content.decode()
    for name in ("name", "count", "loud", "colour", "email", "ref", "day", "tags", "api_token"):
        assert f'name="payload-{name}"' in body
    assert 'type="checkbox" name="payload-loud"' in body
    assert 'type="date" name="payload-day"' in body


def test_run_job__success_enqueues_audits_without_the_secret_and_opens_the_job() -> None:
    user = runner()
    project = factories.project(slug="acme-shop")
    response = login(user).post(FORM, filled(project="acme-shop"))

    job = Job.objects.get(type="test.form")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:jobs_job_change", args=[job.pk])
    assert job.project_id == project.pk and job.priority == 5
    assert job.payload == {
        "name": "nightly",
        "count": 3,
        "loud": True,
        "colour": "green",
        "email": "ops@example.com",
        "day": "2026-05-04",
        "tags": ["a", "b"],
        "api_token": SECRET,
    }
    audit = AuditLog.objects.get(action="job.submit")
    assert (audit.actor_id, audit.target_type, audit.target_id) == (user.pk, "job", str(job.pk))
    assert audit.reason == "checking the form"
    assert audit.details["payload"]["name"] == "nightly"
    assert audit.details["payload"]["api_token"] == "[sensitive]"
    assert SECRET not in json.dumps(audit.details) + audit.reason


def test_run_job__optional_fields_left_blank_take_the_serializer_defaults() -> None:
    login(runner()).post(
        FORM,
        filled(
            **{
                "payload-count": "",
                "payload-loud": None,
                "payload-email": "",
                "payload-day": "",
                "payload-tags": "",
                "payload-api_token": "",
            }
        ),
    )
    job = Job.objects.get(type="test.form")
    assert job.payload == {"name": "nightly", "colour": "green", "loud": False}


def test_run_job__form_errors_are_shown_per_field_and_nothing_is_enqueued() -> None:
    response = login(runner()).post(
        FORM, filled(**{"payload-count": "11", "payload-colour": "blue", "payload-tags": "[oops"})
    )
    assert response.status_code == 200
    errors = response.context["payload_form"].errors
    assert set(errors) == {"count", "colour", "tags"}
    assert SECRET not in response.content.decode()  # the password box is not filled back
    assert not Job.objects.exists() and not AuditLog.objects.filter(action="job.submit").exists()


def test_run_job__serializer_errors_land_on_their_field() -> None:
    response = login(runner()).post(FORM, filled(**{"payload-name": "forbidden"}))
    assert response.status_code == 200
    assert response.context["payload_form"].errors["name"] == ["This name is reserved."]
    assert "This name is reserved." in response.content.decode()
    assert not Job.objects.exists()


def test_run_job__unknown_project_is_an_error() -> None:
    response = login(runner()).post(FORM, filled(project="no-such"))
    assert "No project" in str(response.context["options"].errors["project"])
    assert not Job.objects.exists()


def test_run_job__unknown_type_goes_back_to_the_pick() -> None:
    url = reverse("admin:console_run_job_type", args=["no.such"])
    response = login(runner()).get(url)
    assert response.status_code == 302 and response["Location"] == PICK


@pytest.mark.parametrize("url", [PICK, FORM])
@pytest.mark.parametrize("method", ["get", "post"])
def test_run_job__needs_the_run_job_permission(url: str, method: str) -> None:
    operator = factories.staff(perms=["jobs.view_job", "jobs.operate_job"])
    response = getattr(login(operator), method)(url, filled())
    assert response.status_code == 403
    assert not Job.objects.exists()


def test_run_job__superuser_may_run() -> None:
    root = factories.user(is_staff=True, is_superuser=True)
    response = login(root).post(FORM, filled())
    assert response.status_code == 302 and Job.objects.filter(type="test.form").count() == 1


def test_run_job__type_without_serializer_takes_a_json_object_only() -> None:
    url = reverse("admin:console_run_job_type", args=["test.noop"])
    client = login(runner())
    response = client.post(url, {"payload-payload": "[1, 2]", "priority": "0"})
    assert response.status_code == 200
    assert response.context["payload_form"].errors["payload"] == [
        "The payload must be a JSON object."
    ]
    assert not Job.objects.exists()
    response = client.post(url, {"payload-payload": '{"x": 1}', "priority": "0"})
    assert response.status_code == 302 and Job.objects.get(type="test.noop").payload == {"x": 1}
