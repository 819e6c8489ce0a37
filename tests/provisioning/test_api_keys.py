"""API keys: format, digest-only storage, authentication, limit, revocation, rotation, reveal."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from controlplane.models import AuditLog
from provisioning.models import ApiKey, ApiKeyReveal
from provisioning.services import (
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    api_key_authenticate,
    api_key_issue,
    api_key_reveal_consume,
    api_key_reveal_purge,
    api_key_revoke,
    api_key_rotate,
)
from provisioning.services.api_keys import secret_digest
from tests import factories

pytestmark = pytest.mark.django_db
KEY_FORMAT = re.compile(r"^acme-shop_([0-9a-f]{16})_([0-9a-f]{64})$")


def test_api_key_issue__format_and_digest(project: Any, settings: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    match = KEY_FORMAT.match(plaintext)
    assert match, plaintext
    lookup, secret = match.groups()
    assert key.lookup == lookup and key.prefix == "acme-shop"
    assert key.digest == secret_digest(secret) and secret not in key.digest
    # The digest depends on the pepper: a leaked table alone does not let anyone check guesses.
    settings.API_KEY_PEPPER = "another-pepper-0123456789-abcdefghijklmnop"
    assert secret_digest(secret) != key.digest


def test_api_key_issue__custom_prefix_and_unique_secrets(project: Any) -> None:
    keys = [api_key_issue(project=project, name=f"k{i}", prefix="sk-live")[1] for i in range(5)]
    assert all(k.startswith("sk-live_") for k in keys)
    assert len({k.split("_")[2] for k in keys}) == 5


@pytest.mark.parametrize("prefix", ["Upper", "has_underscore", "1digit", "x" * 41, "sp ace"])
def test_api_key_issue__bad_prefix_rejected(project: Any, prefix: str) -> None:
    with pytest.raises(ValidationError, match="not a valid key prefix"):
        api_key_issue(project=project, name="k", prefix=prefix)


def test_api_key_issue__limit_of_ten_active_keys(project: Any) -> None:
    for i in range(10):
        api_key_issue(project=project, name=f"k{i}")
    with pytest.raises(ValidationError, match="the limit is 10"):
        api_key_issue(project=project, name="eleventh")
    assert ApiKey.objects.filter(project=project).count() == 10
    # Revoked keys free their place.
    api_key_revoke(key_ids=[ApiKey.objects.filter(project=project).first().pk], actor=None)
    api_key_issue(project=project, name="eleventh")


def test_api_key_issue__limit_is_per_project(project: Any) -> None:
    for i in range(10):
        api_key_issue(project=project, name=f"k{i}")
    other = factories.project(slug="other-shop")
    api_key_issue(project=other, name="k")


def test_api_key_authenticate__valid(project: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    assert api_key_authenticate(plaintext=plaintext).pk == key.pk


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("0" if k[-1] != "0" else "1"),  # wrong secret
        lambda k: k.replace(k.split("_")[1], "0" * 16),  # unknown lookup
        lambda k: "other_" + k.split("_", 1)[1],  # wrong prefix
        lambda k: k + "0",  # too long
        lambda k: "",
        lambda k: "not a key",
        lambda k: k.upper(),
    ],
)
def test_api_key_authenticate__wrong_key(project: Any, mangle: Any) -> None:
    _, plaintext = api_key_issue(project=project, name="ci")
    with pytest.raises(ApiKeyInvalid) as caught:
        api_key_authenticate(plaintext=mangle(plaintext))
    assert type(caught.value) is ApiKeyInvalid
    assert plaintext not in str(caught.value)


def test_api_key_authenticate__revoked(project: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    assert api_key_revoke(key_ids=[key.pk], actor=None) == 1
    with pytest.raises(ApiKeyRevoked, match="revoked"):
        api_key_authenticate(plaintext=plaintext)


def test_api_key_authenticate__expired(project: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApiKeyExpired, match="expired"):
        api_key_authenticate(plaintext=plaintext)


def test_api_key_revoke__audited_once(project: Any, staff_user: Any) -> None:
    key, _ = api_key_issue(project=project, name="ci")
    assert api_key_revoke(key_ids=[key.pk], actor=staff_user, reason="leaked") == 1
    assert api_key_revoke(key_ids=[key.pk], actor=staff_user, reason="again") == 0
    audit = AuditLog.objects.get(action="api_key.revoke")
    assert (audit.actor_label, audit.target_id, audit.reason) == ("operator", str(key.pk), "leaked")


def test_api_key_rotate__grace_period_then_refused(project: Any) -> None:
    old, old_plaintext = api_key_issue(project=project, name="ci")
    _, kept_plaintext = api_key_issue(project=project, name="other")
    before = timezone.now()
    [(new, new_plaintext)] = api_key_rotate(
        project=project, key_id=old.pk, grace_period_seconds=3600
    )
    old.refresh_from_db()
    assert new.name == "ci" and new.pk != old.pk
    assert old.expires_at is not None
    window = timedelta(seconds=3600)
    assert before + window <= old.expires_at <= timezone.now() + window
    # Within the grace period both work; the untouched key is not affected.
    assert api_key_authenticate(plaintext=old_plaintext).pk == old.pk
    assert api_key_authenticate(plaintext=new_plaintext).pk == new.pk
    assert api_key_authenticate(plaintext=kept_plaintext).expires_at is None
    # After it, the old key is refused.
    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApiKeyExpired):
        api_key_authenticate(plaintext=old_plaintext)
    assert api_key_authenticate(plaintext=new_plaintext).pk == new.pk


def test_api_key_rotate__all_keys_even_at_the_limit(project: Any) -> None:
    for i in range(10):
        api_key_issue(project=project, name=f"k{i}")
    issued = api_key_rotate(project=project)
    assert len(issued) == 10
    assert ApiKey.objects.filter(project=project, expires_at__isnull=True).count() == 10
    assert ApiKey.objects.filter(project=project, expires_at__isnull=False).count() == 10
    assert AuditLog.objects.filter(action="api_key.rotate").count() == 10


def test_api_key_rotate__zero_grace_expires_at_once(project: Any) -> None:
    _, plaintext = api_key_issue(project=project, name="ci")
    api_key_rotate(project=project, grace_period_seconds=0)
    with pytest.raises(ApiKeyExpired):
        api_key_authenticate(plaintext=plaintext)


def test_api_key_rotate__unknown_or_rotated_key_refused(project: Any) -> None:
    key, _ = api_key_issue(project=project, name="ci")
    api_key_rotate(project=project, key_id=key.pk)
    with pytest.raises(ValidationError, match="not an active key"):
        api_key_rotate(project=project, key_id=key.pk)
    with pytest.raises(ValidationError, match="negative"):
        api_key_rotate(project=project, grace_period_seconds=-1)


def test_api_key_reveal__exactly_once(project: Any, staff_user: Any) -> None:
    [(new, _)] = [api_key_issue(project=project, name="ci", reveal_later=True)]
    stored = ApiKeyReveal.objects.get(api_key=new).ciphertext
    revealed = api_key_reveal_consume(project=project, actor=staff_user)
    assert [k.pk for k, _ in revealed] == [new.pk]
    plaintext = revealed[0][1]
    assert api_key_authenticate(plaintext=plaintext).pk == new.pk
    assert plaintext not in stored
    assert api_key_reveal_consume(project=project, actor=staff_user) == []
    assert not ApiKeyReveal.objects.exists()
    assert AuditLog.objects.filter(action="api_key.reveal", actor_label="operator").count() == 1


def test_api_key_reveal__rotation_replacements_wait_for_reveal(project: Any) -> None:
    api_key_issue(project=project, name="ci")
    [(new, plaintext)] = api_key_rotate(project=project)
    [(revealed, revealed_plaintext)] = api_key_reveal_consume(project=project, actor=None)
    assert (revealed.pk, revealed_plaintext) == (new.pk, plaintext)


def test_api_key_reveal__expired_reveals_purged_and_not_shown(project: Any) -> None:
    key, _ = api_key_issue(project=project, name="ci", reveal_later=True)
    ApiKeyReveal.objects.filter(api_key=key).update(expires_at=timezone.now())
    assert api_key_reveal_consume(project=project, actor=None) == []
    assert api_key_reveal_purge() == 1


def test_api_key_revoke__drops_a_pending_reveal(project: Any) -> None:
    key, _ = api_key_issue(project=project, name="ci", reveal_later=True)
    api_key_revoke(key_ids=[key.pk], actor=None)
    assert not ApiKeyReveal.objects.exists()
