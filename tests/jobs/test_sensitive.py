"""Sensitive payload fields: declared at @job_handler, masked for readers who cannot operate."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backups.handlers import EXPORT_JOB
from controlplane import roles
from jobs.registry import MASK, find_handler, job_handler, payload_for_reader
from jobs.services import enqueue_job
from tests import factories
from tests.jobs.sample_handlers import SecretPathPayload as _Payload


def test_job_handler__sensitive_names_must_be_payload_fields() -> None:
    with pytest.raises(ValueError, match="nope"):  # raised before anything is registered
        job_handler("test.sensitive_bad", payload=_Payload, sensitive=("nope",))(lambda ctx: None)
    with pytest.raises(TypeError):
        job_handler("test.sensitive_str", payload=_Payload, sensitive="name")(lambda ctx: None)


def test_payload_for_reader__masks_only_for_readers_who_cannot_operate() -> None:
    job_handler("test.sensitive_ok", payload=_Payload, sensitive=("secret_path",))(lambda ctx: None)
    spec = find_handler("test.sensitive_ok")
    payload = {"name": "a", "secret_path": "backups/x.sql"}
    assert payload_for_reader(spec, payload, False) == {"name": "a", "secret_path": MASK}
    assert payload_for_reader(spec, payload, True) == payload
    assert payload == {"name": "a", "secret_path": "backups/x.sql"}  # not changed in place


def test_export_backup__declares_email_and_storage_path_sensitive() -> None:
    spec = find_handler(EXPORT_JOB)
    assert spec is not None and spec.sensitive == ("notify_email", "storage_path")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("group", "shown"), [(roles.VIEWER_GROUP, False), (roles.OPERATOR_GROUP, True)]
)
def test_job_admin__payload_masked_for_viewer(client: Client, group: str, shown: bool) -> None:
    from django.contrib.auth.models import Group

    project = factories.project(slug="acme-shop")
    job, _ = enqueue_job(
        type=EXPORT_JOB,
        payload={
            "project_id": "acme-shop",
            "notify_email": "ceo@example.com",
            "storage_path": "backups/acme-shop/secret-name.sql",
        },
        project=project,
    )
    user: Any = factories.staff(username="reader")
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    page = client.get(reverse("admin:jobs_job_change", args=[job.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert ("ceo@example.com" in body) is shown
    assert ("secret-name.sql" in body) is shown
    assert ("hidden: needs jobs.operate_job" in body) is not shown
    assert "acme-shop" in body  # the rest of the payload is shown
