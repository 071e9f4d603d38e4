"""Per-kind email preferences on "Your account": every kind is emailed until its box is
unticked; the form is CSRF-protected, says what it saved, and each person changes only
their own; ``notify`` leaves out of the email whoever turned that kind off."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from operations_app.models import Notification, Severity
from operations_app.services.notifications import notify
from vmpersona.accounts import selectors, services
from vmpersona.accounts.models import NotificationKind, NotificationPreference

pytestmark = pytest.mark.django_db

URL = "/accounts/me/notifications/"
ALL_ON = {f"email_{kind}": "on" for kind in NotificationKind.values}


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_every_kind_is_emailed_until_turned_off(users):
    assert selectors.notification_email_choices(user=users["author"]) == dict.fromkeys(
        NotificationKind.values, True
    )
    page = logged_in(users["author"]).get("/accounts/me/").content.decode()
    assert 'id="notification-preferences"' in page
    for kind in NotificationKind:
        assert f'name="email_{kind.value}"' in page
        assert kind.label in page
    assert page.count("checked") >= len(NotificationKind.values)


def test_the_form_saves_the_choices_and_says_so(users):
    client = logged_in(users["approver"])
    posted = dict(ALL_ON)
    del posted["email_review_requests"], posted["email_maintenance"]  # unticked
    response = client.post(URL, posted, follow=True)
    assert response.redirect_chain[-1][0].endswith("/accounts/me/")
    assert "Email preferences saved." in response.content.decode()
    choices = selectors.notification_email_choices(user=users["approver"])
    assert choices["review_requests"] is False and choices["maintenance"] is False
    assert choices["review_decisions"] is True and choices["job_outcomes"] is True
    page = client.get("/accounts/me/").content.decode()
    box = page.split('name="email_review_requests"')[0].rsplit("<input", 1)[1]
    assert "checked" not in box
    # Ticked again, it is on again; nobody else's choices moved.
    client.post(URL, ALL_ON)
    assert all(selectors.notification_email_choices(user=users["approver"]).values())
    assert not NotificationPreference.objects.exclude(user=users["approver"]).exists()


def test_the_form_needs_a_login_a_post_and_a_csrf_token(users):
    assert Client().post(URL, ALL_ON).status_code == 302  # to the login page
    assert logged_in(users["author"]).get(URL).status_code == 405
    strict = logged_in(users["author"], enforce_csrf_checks=True)
    assert strict.post(URL, {}).status_code == 403
    assert not NotificationPreference.objects.exists()


def test_unknown_kinds_are_refused_by_the_service(users):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="unknown notification kind"):
        services.notification_preferences_set(user=users["author"], email={"gossip": False})


def test_notify_emails_only_those_who_want_that_kind(users, django_capture_on_commit_callbacks):
    services.notification_preferences_set(
        user=users["operator"], email={NotificationKind.MAINTENANCE: False}
    )
    people = [users["operator"], users["admin"]]
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipients=people, severity=Severity.INFO, message="Window opens soon")
    assert [m.to for m in mail.outbox] == [["admin@example.test"]]
    assert Notification.objects.filter(message="Window opens soon").count() == 2
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            recipients=people,
            severity=Severity.INFO,
            message="Plan ready",
            kind=NotificationKind.PLANS,
        )
    assert sorted(mail.outbox[0].to) == ["admin@example.test", "operator@example.test"]
