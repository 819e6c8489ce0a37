"""What every admin shares: one confirmed-action flow, one reason form, one status badge, times."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

# One colour per meaning; every status of every model maps to one of them.
_GREEN, _BLUE, _PURPLE, _AMBER, _RED, _GREY = (
    "#2e7d32",
    "#1565c0",
    "#6a1b9a",
    "#b26a00",
    "#c62828",
    "#616161",
)
BADGE_COLOURS: Mapping[str, str] = {
    "pending": _BLUE,
    "running": _PURPLE,
    "processing": _PURPLE,
    "provisioning": _PURPLE,
    "completed": _GREEN,
    "passed": _GREEN,
    "active": _GREEN,
    "registered": _GREEN,
    "done": _GREEN,
    "retry": _AMBER,
    "suspended": _AMBER,
    "failed": _RED,
    "provision_failed": _RED,
    "cancelled": _GREY,
    "skipped": _GREY,
    "never": _GREY,
    "deregistered": _GREY,
    "compensated": _GREY,
}
SAMPLE_SIZE = 50


def badge_colour(status: str) -> str:
    """Return the badge colour of any status value (case-insensitive)."""
    return BADGE_COLOURS.get(str(status).lower(), "#555")


def status_badge(status: str, label: str, *, css_class: str = "status-badge") -> SafeString:
    """Render a status as a coloured badge."""
    return format_html(
        '<span class="{}" style="color:#fff;background:{};padding:2px 6px;border-radius:3px;'
        'white-space:nowrap">{}</span>',
        css_class,
        badge_colour(status),
        label,
    )


def age(seconds: float) -> str:
    """Return a short relative age: '40 s', '16 min', '3 h 5 min', '2 days'."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = hours // 24
    return f"{days} day{'s' if days != 1 else ''}"


def exact_time(
    value: datetime | None, *, relative: bool = True, short_today: bool = False
) -> SafeString | str:
    """Render a time with seconds (UTC) and, below it, how long ago (or until) it is.

    `short_today` leaves the date out for today's times (narrow list columns; the full
    time is in the title).
    """
    if value is None:
        return "—"
    local = timezone.localtime(value)
    today = short_today and local.date() == timezone.localdate()
    stamp = local.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M:%S")
    if not relative:
        return format_html('<span class="nowrap">{}</span>', stamp)
    delta = (timezone.now() - value).total_seconds()
    when = f"{age(delta)} ago" if delta >= 0 else f"in {age(delta)}"
    return format_html(
        '<span class="nowrap" title="{}">{}</span><br><span class="quiet">{}</span>',
        value.isoformat(),
        stamp,
        when,
    )


def acting_user(request: HttpRequest) -> AbstractBaseUser | None:
    """Return the staff user behind an admin request (for services' `actor`)."""
    user = request.user
    return user if isinstance(user, AbstractBaseUser) else None


class ReadOnlyAdminMixin:
    """Records the system writes: visible to staff, changed only through actions."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class QuickListMixin:
    """Change lists that render fast at a large page: the row checkbox without a widget render.

    Django renders each row's checkbox through the form template engine (about 0.15 ms a
    row); the same markup from `format_html` costs a few microseconds.
    """

    def action_checkbox(self, obj: Model) -> SafeString:
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select this object for an action - {}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            obj,
        )


class CappedCountPaginator(Paginator):
    """Count at most `cap` rows (unordered), so a big table never gets a full COUNT(*).

    A selective filter makes even a capped count read every candidate row, so the cap is
    what the page links need (a few pages past the current one), not a fixed large number.
    """

    def __init__(self, *args: Any, cap: int = 10_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        queryset = cast(QuerySet[Any], self.object_list)
        return queryset.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        """Return True when there are more rows than were counted."""
        return self.count > self.cap


class ReasonForm(forms.Form):
    """The reason staff give for an action; recorded in the audit log.

    Optional: a one-line note. Required (`reason_required=True`): a text box to explain in.
    """

    reason = forms.CharField(
        widget=forms.TextInput(attrs={"size": 60}),
        max_length=1000,
        required=False,
        help_text="Optional; recorded in the audit log.",
    )

    def __init__(
        self, *args: Any, reason_required: bool = False, reason_help: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reason"]
        field.required = reason_required
        if reason_required:
            field.widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "maxlength": 1000})
        if reason_help:
            field.help_text = reason_help
        elif reason_required:
            field.help_text = "Recorded in the audit log."


Perform = Callable[[QuerySet[Any], dict[str, Any]], int]


class ConfirmedActionMixin:
    """An admin action in two steps: a page naming what will change (and what will not), then
    the service call on confirmation.

    Call `confirmed_action` from an `@admin.action`; it returns the confirmation page, or
    None once `perform(eligible, cleaned_data)` has run and reported its count.
    """

    confirm_template = "admin/confirm_action.html"

    def confirmed_action(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        *,
        action: str,
        verb: str,
        noun: str,
        eligible: QuerySet[Any],
        perform: Perform,
        done: str,
        skipped_why: str = "are in another status",
        skipped_done: str = "",
        question: str = "{verb} these {count} {noun}(s)?",
        nothing: str = "None of the selected {noun}s can be changed this way.",
        explain: str = "",
        describe: Callable[[Any], Any] = str,
        submit: str = "",
        form_class: type[forms.Form] | None = ReasonForm,
        form_kwargs: dict[str, Any] | None = None,
    ) -> HttpResponse | None:
        """Show the confirmation page, or on `confirm=yes` with a valid form call `perform`."""
        confirmed = request.POST.get("confirm") == "yes"
        form = None
        if form_class is not None:
            form = form_class(request.POST if confirmed else None, **(form_kwargs or {}))
        count = eligible.count()
        skipped = queryset.count() - count
        if confirmed and (form is None or form.is_valid()):
            changed = perform(eligible, form.cleaned_data if form is not None else {})
            self.message_user(request, done.format(n=changed), messages.SUCCESS)  # type: ignore[attr-defined]
            if skipped > 0:
                text = skipped_done or "Skipped {n} {noun}(s) that {why}."
                self.message_user(  # type: ignore[attr-defined]
                    request, text.format(n=skipped, noun=noun, why=skipped_why), messages.WARNING
                )
            return None
        sample = list(eligible[:SAMPLE_SIZE])
        opts = self.model._meta  # type: ignore[attr-defined]
        fill = {"verb": verb, "noun": noun, "count": count}
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"{verb} {noun}s",
            "opts": opts,
            "action": action,
            "question": format_html(question, **fill),
            "nothing": nothing.format(**fill),
            "explain": explain,
            "count": count,
            "items": [describe(obj) for obj in sample],
            "more": max(count - len(sample), 0),
            "list_id": "affected-" + noun.split()[-1].lower() + "s",
            "skipped": skipped,
            "skipped_text": f"{skipped} selected {noun}(s) {skipped_why} and will be left alone.",
            "submit": submit or f"{verb} {count} {noun}(s)",
            "form": form,
            "select_across": request.POST.get("select_across", "0"),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "query_string": request.GET.urlencode(),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.confirm_template, context)


def model_ids(queryset: QuerySet[Any]) -> list[Any]:
    """Return the primary keys of a queryset (what services take)."""
    return list(queryset.values_list("pk", flat=True))


class ObjectActionsMixin:
    """Buttons on an object's page that run one of its admin's list actions on that object.

    `<pk>/<action>/` (named `<app>_<model>_<action>`) for each name in `object_actions`: the
    permission is the action's own (`get_actions`), checked on GET and POST (403 otherwise);
    the action then runs exactly as from the list (a confirmed action shows its confirmation
    page, which posts back here), and on success the object's page is shown again. Only a
    POST runs it: a GET (a followed link) just goes back to the object's page.
    """

    object_actions: Sequence[str] = ()

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta  # type: ignore[attr-defined]
        urls = [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(  # type: ignore[attr-defined]
                    functools.partial(self.object_action_view, action=name)
                ),
                name=f"{opts.app_label}_{opts.model_name}_{name}",
            )
            for name in self.object_actions
        ]
        return urls + super().get_urls()  # type: ignore[misc]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Answer 403 to a list action posted without its permission.

        Django would ignore it (no actions at all) or say "No action selected"; a direct
        POST is refused as loudly as a button's URL.
        """
        name = request.POST.get("action", "") if request.method == "POST" else ""
        declared = {a if isinstance(a, str) else a.__name__ for a in self.actions or ()}  # type: ignore[attr-defined]
        if name in declared and name not in self.get_actions(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def object_action_allowed(self, request: HttpRequest, action: str) -> bool:
        """Return True when the user may run `action` (the list action's permission)."""
        return action in self.get_actions(request)  # type: ignore[attr-defined]

    def object_action_url(self, obj: Model, action: str) -> str:
        """Return the URL of `action`'s button on `obj`'s page."""
        opts = self.model._meta  # type: ignore[attr-defined]
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=[obj.pk])

    def object_action_view(
        self, request: HttpRequest, object_id: str, *, action: str
    ) -> HttpResponse:
        """Run the list action `action` on one object; 403 without its permission."""
        if action not in self.object_actions or not self.object_action_allowed(request, action):
            raise PermissionDenied
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if obj is None:
            raise Http404
        opts = self.model._meta  # type: ignore[attr-defined]
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        func = self.get_actions(request)[action][0]  # type: ignore[attr-defined]
        queryset = self.get_queryset(request).filter(pk=obj.pk)  # type: ignore[attr-defined]
        response = func(self, request, queryset)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            # A confirmation page's "back" returns to this object, not to the list.
            response.context_data["cancel_url"] = change_url
        if response is not None:
            return cast(HttpResponse, response)
        return HttpResponseRedirect(change_url)
