"""Password policy (issue 5 item 6; GB/T 22239-2019 level 3): at least 10 characters of at
least 3 of 4 kinds, the change page (audited), and the change forced after
WITNESS_PASSWORD_MAX_DAYS days or by the system administrator."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from witness.accounts import passwords
from witness.accounts.models import PasswordState
from witness.accounts.validators import CharacterClassValidator, classes_of
from witness.audit.models import AuditEntry
from witness.testing import factories as f
from witness.testing.factories import PASSWORD

NEW = "Neue-Kennung-2026"


@pytest.mark.parametrize("password,kinds", [
    ("abcdefghij", {"lower"}),
    ("ABCDEFGHIJ", {"upper"}),
    ("1234567890", {"digit"}),
    ("abcdeFGHIJ", {"lower", "upper"}),
    ("abcde12345", {"lower", "digit"}),
    ("abcde-fghi", {"lower", "symbol"}),
    ("Abcde12345", {"upper", "lower", "digit"}),
    ("abc 123 !!", {"lower", "digit", "symbol"}),
    ("执法记录仪abc123", {"symbol", "lower", "digit"}),
    ("Aa1!", {"upper", "lower", "digit", "symbol"}),
])
def test_issue5_character_classes(password, kinds):
    assert classes_of(password) == kinds


@pytest.mark.parametrize("password,ok", [
    ("abcdefghij", False), ("abcde12345", False), ("abcde-fghi", False),
    ("ABCDE12345", False), ("Abcde12345", True), ("abcde-1234", True),
    ("ABCDE-FGHI", False), ("ABCDE-1234", True), ("Abcde-fghi", True),
])
def test_issue5_three_of_four_kinds(password, ok):
    validator = CharacterClassValidator()
    if ok:
        validator.validate(password)
    else:
        with pytest.raises(ValidationError) as info:
            validator.validate(password)
        assert info.value.code == "password_too_simple"


def test_issue5_the_policy_is_in_the_settings(db):
    """The project's validators together: length 10 and three kinds."""
    with pytest.raises(ValidationError):
        password_validation.validate_password("Ab1-")  # too short
    with pytest.raises(ValidationError):
        password_validation.validate_password("lowercase-only")  # two kinds
    password_validation.validate_password(NEW)
    password_validation.validate_password(PASSWORD.capitalize() + "7")
    texts = " ".join(password_validation.password_validators_help_texts())
    assert "3" in texts


def test_issue5_a_minimum_outside_one_to_four_is_a_setup_error():
    with pytest.raises(ValueError):
        CharacterClassValidator(min_classes=5)


@pytest.mark.django_db
def test_issue5_setting_a_password_records_when(ns):
    user = ns.people["officer"].user
    before = timezone.now()
    user.set_password(NEW)
    user.save()
    state = PasswordState.objects.get(user=user)
    assert state.changed_at >= before and not state.must_change
    user.first_name = "x"
    user.save()  # no new password: the time stays
    assert PasswordState.objects.get(user=user).changed_at == state.changed_at


@pytest.mark.django_db
def test_issue5_the_password_change_page_changes_and_audits(ns, login, client):
    person = ns.people["officer"]
    login(person)
    page = client.get(reverse("password_change"))
    assert page.status_code == 200 and 'name="new_password1"' in page.content.decode()
    weak = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "weakpassword",
        "new_password2": "weakpassword"})
    assert weak.status_code == 400
    same = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD})
    assert same.status_code == 400
    wrong_old = client.post(reverse("password_change"), {
        "old_password": "not-it", "new_password1": NEW, "new_password2": NEW})
    assert wrong_old.status_code == 400
    assert not AuditEntry.objects.filter(action="auth.password.change").exists()
    done = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done.url == reverse("account")
    person.user.refresh_from_db()
    assert person.user.check_password(NEW)
    entry = AuditEntry.objects.get(action="auth.password.change")
    assert entry.actor_label == person.user.username
    assert NEW not in str(entry.details)
    assert client.get(reverse("home")).status_code == 200  # still logged in


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["officer", "leader"])
def test_issue5_an_old_password_must_be_changed_first(ns, login, client, settings, role):
    settings.WITNESS_PASSWORD_MAX_DAYS = 90
    person = ns.people[role]
    PasswordState.objects.update_or_create(
        user=person.user, defaults={"changed_at": timezone.now() - timedelta(days=91)})
    login(person)  # the leader also passes the second factor first
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url == reverse("password_change")
    assert client.get(reverse("account")).url.startswith(reverse("password_change"))
    page = client.get(reverse("password_change"))
    assert page.status_code == 200 and "90" in page.content.decode()
    client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_issue5_a_password_within_its_age_is_not_asked_for(ns, login, client, settings):
    settings.WITNESS_PASSWORD_MAX_DAYS = 90
    person = ns.people["officer"]
    PasswordState.objects.update_or_create(
        user=person.user, defaults={"changed_at": timezone.now() - timedelta(days=89)})
    login(person)
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_issue5_an_account_without_a_record_counts_from_joining(db, settings):
    settings.WITNESS_PASSWORD_MAX_DAYS = 30
    user = f.UserFactory(username="legacy")
    PasswordState.objects.filter(user=user).delete()
    user.date_joined = timezone.now() - timedelta(days=31)
    user.save(update_fields=["date_joined"])
    assert passwords.must_change(user) == "expired"
    user.date_joined = timezone.now() - timedelta(days=29)
    assert passwords.must_change(user) is None


@pytest.mark.django_db
def test_issue5_the_system_administrator_forces_a_change(ns, login, client):
    officer = ns.people["officer"]
    login(ns.people["sysadmin"])
    response = client.post(reverse("user_settings", args=[officer.user.pk]),
                           {"action": "force_password"})
    assert response.status_code == 302
    assert passwords.must_change(officer.user) == "forced"
    entry = AuditEntry.objects.get(action="user.password.force")
    assert entry.details == {"username": officer.user.username}
    client.logout()
    login(officer)
    assert client.get(reverse("home")).url == reverse("password_change")
    client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert passwords.must_change(get_user_model().objects.get(pk=officer.user.pk)) is None
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize("password,ok", [
    ("seven horses cross the river", True),  # 28 characters, two kinds
    ("aaaaaaaaaaaaaaaaaaaaaaaa", False),  # long but one kind
    ("horses cross the river", True),
    ("horse cross river", False),  # 17 characters, two kinds
])
def test_issue5_a_long_passphrase_needs_two_kinds(password, ok):
    validator = CharacterClassValidator()
    if ok:
        validator.validate(password)
    else:
        with pytest.raises(ValidationError):
            validator.validate(password)
