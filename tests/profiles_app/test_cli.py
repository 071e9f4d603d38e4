"""``manage.py vppd`` and ``manage.py rotate_kek``: output and exit status."""

from __future__ import annotations

import io
import json
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from profiles_app.models import Policy, PolicyVersion, VersionStatus, VolumeKey
from profiles_app.services import versions as svc
from profiles_app.services.keys import volume_key_create, volume_key_reveal

SECRET = "Plain-Volume-Key-0123456789-cli"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(command: str, *args: str) -> tuple[int, str, str]:
    """Run a management command; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    return code, out.getvalue(), err.getvalue()


def vppd(*args: str) -> tuple[int, str, str]:
    return run("vppd", *args)


@pytest.fixture
def write(tmp_path):
    def factory(document, name="doc.json") -> str:
        path = tmp_path / name
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        return str(path)

    return factory


def encrypted(make_document, name="vault", key=SECRET):
    return make_document(
        name,
        data_volume_definitions=[
            {
                "name": "data",
                "size_gib": 1,
                "mount_point": "/srv/data",
                "encryption": {"enabled": True, "key": key},
            }
        ],
    )


def status_of(name: str, number: int) -> str:
    return PolicyVersion.objects.get(policy__name=name, number=number).status


# --- Help and usage -------------------------------------------------------------------


def test_help_documents_subcommands_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as info:
        call_command("vppd", "--help")
    assert info.value.code == 0
    text = capsys.readouterr().out
    for word in ("validate", "import", "approve", "export", "diff", "show"):
        assert word in text
    assert "exit status" in text
    for line in ("0  success", "1  invalid input", "2  usage error", "3  refused"):
        assert line in text


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["validate"],
        ["import", "x.json", "--profile", "web"],
        ["submit", "web@1"],
        ["reject", "web@1", "--as", "approver"],
        ["list", "--status", "bogus"],
    ],
)
def test_usage_errors_exit_2(args, capsys):
    code, _, _ = vppd(*args)
    assert code == 2
    assert "usage:" in capsys.readouterr().err


# --- validate -------------------------------------------------------------------------


def test_validate_valid_file_offline_needs_no_database(make_document, write):
    # No django_db mark: any database access would fail this test.
    path = write(make_document("web"))
    code, out, err = vppd("validate", path, "--offline")
    assert code == 0
    assert out == f"{path}: valid\n"


def test_validate_prints_one_pointer_per_error(make_document, write):
    document = make_document("web")
    document["resource_allocation"]["vcpus"] = 0
    document["execution_flags"] = ["Testing", "Production"]
    code, out, _ = vppd("validate", write(document), "--offline")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("/execution_flags: ")
    assert lines[1].startswith("/resource_allocation/vcpus: ")


def test_validate_shows_the_root_as_slash(write):
    code, out, _ = vppd("validate", write("[1, 2]"), "--offline")
    assert code == 1
    assert out.startswith("/: ") and "JSON object" in out

    code, out, _ = vppd("validate", write('{"name": '), "--offline")
    assert code == 1
    assert out.startswith("/: Invalid JSON at line 1 column")


def test_validate_reads_stdin(make_document, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(make_document("web"))))
    code, out, _ = vppd("validate", "-", "--offline")
    assert (code, out) == (0, "<stdin>: valid\n")


def test_validate_unreadable_file_is_a_usage_error(tmp_path):
    code, _, err = vppd("validate", str(tmp_path / "missing.json"), "--offline")
    assert code == 2
    assert "cannot read" in err


@pytest.mark.django_db
def test_validate_checks_key_refs_against_the_database(make_document, write):
    key = volume_key_create(plain=SECRET, name_hint="held")
    document = make_document("web")
    document["data_volume_definitions"] = [
        {
            "name": "data",
            "size_gib": 1,
            "mount_point": "/srv",
            "encryption": {"enabled": True, "key_ref": "gone"},
        }
    ]
    path = write(document)
    code, out, _ = vppd("validate", path)
    assert code == 1
    assert out.startswith("/data_volume_definitions/0/encryption/key_ref: ")
    # --offline skips only that check.
    assert vppd("validate", path, "--offline")[0] == 0
    document["data_volume_definitions"][0]["encryption"]["key_ref"] = key.name
    assert vppd("validate", write(document))[:2] == (0, f"{path}: valid\n")


def test_validate_never_prints_an_inline_key(make_document, write):
    short = "short-Key-42"  # too short: the error is about this very value
    code, out, err = vppd("validate", write(encrypted(make_document, key=short)), "--offline")
    assert code == 1
    assert "/data_volume_definitions/0/encryption/key: " in out
    assert short not in out + err


# --- import and review ----------------------------------------------------------------


@pytest.mark.django_db
def test_import_creates_profile_then_new_drafts(users, make_document, write):
    code, out, _ = vppd(
        "import",
        write(make_document("web")),
        "--profile",
        "web",
        "--as",
        "author",
        "--note",
        "first",
    )
    assert (code, out) == (0, "web@1 draft created\n")
    v1 = PolicyVersion.objects.get(policy__name="web", number=1)
    assert (v1.author.username, v1.change_note, v1.status) == (
        "author",
        "first",
        VersionStatus.DRAFT,
    )

    changed = make_document("web", description="second")
    code, out, _ = vppd("import", write(changed), "--profile", "web", "--as", "author2")
    assert (code, out) == (0, "web@2 draft created\n")
    v2 = PolicyVersion.objects.get(policy__name="web", number=2)
    assert v2.parent == v1 and v2.document["description"] == "second"


@pytest.mark.django_db
def test_import_moves_inline_keys_out(users, make_document, write):
    code, out, _ = vppd(
        "import", write(encrypted(make_document)), "--profile", "vault", "--as", "author"
    )
    assert code == 0
    stored = PolicyVersion.objects.get(policy__name="vault").document
    encryption = stored["data_volume_definitions"][0]["encryption"]
    assert "key" not in encryption and VolumeKey.objects.filter(name=encryption["key_ref"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["viewer", "approver", "nobody"])
def test_import_refused_for_non_authors(users, make_document, write, who):
    code, out, err = vppd("import", write(make_document("web")), "--profile", "web", "--as", who)
    assert code == 3
    assert out == "" and err.startswith("error: ")
    assert not Policy.objects.exists()


@pytest.mark.django_db
def test_import_of_invalid_document_exits_1(users, make_document, write):
    document = make_document("web")
    document["resource_allocation"]["memory_mib"] = 1
    code, out, err = vppd("import", write(document), "--profile", "web", "--as", "author")
    assert code == 1
    assert out == ""
    assert err.startswith("/resource_allocation/memory_mib: ")

    code, _, err = vppd(
        "import", write(make_document("web")), "--profile", "other", "--as", "author"
    )
    assert code == 1
    assert err.startswith("/name: ")
    assert not Policy.objects.exists()


@pytest.mark.django_db
def test_review_through_the_cli(users, make_document, write):
    vppd("import", write(make_document("web")), "--profile", "web", "--as", "author")
    assert vppd("submit", "web@1", "--as", "author2")[0] == 3
    assert vppd("submit", "web@1", "--as", "author") == (0, "web@1 submitted for approval\n", "")
    assert status_of("web", 1) == VersionStatus.PENDING

    assert vppd("approve", "web@1", "--as", "viewer")[0] == 3
    code, out, _ = vppd("approve", "web@1", "--as", "approver", "--comment", "fine")
    assert (code, out) == (0, "web@1 approved\n")
    version = PolicyVersion.objects.get(policy__name="web", number=1)
    assert (version.status, version.reviewer.username, version.review_comment) == (
        VersionStatus.APPROVED,
        "approver",
        "fine",
    )

    assert vppd("retire", "web@1", "--as", "author")[0] == 3
    assert vppd("retire", "web@1", "--as", "approver2") == (0, "web@1 retired\n", "")
    assert status_of("web", 1) == VersionStatus.RETIRED


@pytest.mark.django_db
def test_author_cannot_approve_own_version_via_cli(users, make_document, write):
    vppd("import", write(make_document("web")), "--profile", "web", "--as", "author_approver")
    vppd("submit", "web@1", "--as", "author_approver")
    for action in ("approve", "reject"):
        code, out, err = vppd(action, "web@1", "--as", "author_approver", "--comment", "self")
        assert code == 3, action
        assert out == ""
        assert "may not" in err
    assert status_of("web", 1) == VersionStatus.PENDING


@pytest.mark.django_db
def test_forbidden_transitions_exit_3_and_change_nothing(users, make_document, write):
    vppd("import", write(make_document("web")), "--profile", "web", "--as", "author")
    before = PolicyVersion.objects.get(policy__name="web", number=1)
    for args in (
        ["approve", "web@1", "--as", "approver"],
        ["reject", "web@1", "--as", "approver", "--comment", "no"],
        ["retire", "web@1", "--as", "approver"],
    ):
        code, _, err = vppd(*args)
        assert code == 3, args
        assert "only" in err
    after = PolicyVersion.objects.get(pk=before.pk)
    assert (after.status, after.updated_at, after.review_comment) == (
        before.status,
        before.updated_at,
        "",
    )


@pytest.mark.django_db
def test_reject_with_comment_and_empty_comment(users, make_document, write):
    vppd("import", write(make_document("web")), "--profile", "web", "--as", "author")
    vppd("submit", "web@1", "--as", "author")
    code, _, err = vppd("reject", "web@1", "--as", "approver", "--comment", " ")
    assert code == 1 and err.startswith("comment: ")
    assert status_of("web", 1) == VersionStatus.PENDING
    assert vppd("reject", "web@1", "--as", "approver", "--comment", "too big")[:2] == (
        0,
        "web@1 rejected\n",
    )
    assert PolicyVersion.objects.get(policy__name="web").review_comment == "too big"


@pytest.mark.django_db
def test_unknown_versions_exit_3(users):
    for label in ("nope@1", "nope", "web@x", "web@99999999999999999999999"):
        code, _, err = vppd("export", label)
        assert code == 3, label
        assert err.startswith("error: ")


# --- export, diff, list, show ---------------------------------------------------------


@pytest.fixture
def two_versions(users, make_document):
    """web@1 approved, web@2 a draft with 2 vCPUs, a new flag and no description."""
    v1 = svc.policy_create(user=users["author"], document=make_document("web", description="one"))
    svc.version_submit(user=users["author"], version=v1)
    svc.version_approve(user=users["approver"], version=v1)
    changed = make_document("web", execution_flags=["Testing", "web"])
    changed["resource_allocation"]["vcpus"] = 2
    del changed["description"]
    svc.version_create_draft(user=users["author"], policy=v1.policy, document=changed)
    return v1


@pytest.mark.django_db
def test_export_prints_the_approved_or_named_version(two_versions):
    code, out, _ = vppd("export", "web")
    assert code == 0
    assert json.loads(out) == PolicyVersion.objects.get(policy__name="web", number=1).document
    assert out.startswith('{\n  "schema_version"')  # pretty
    assert json.loads(vppd("export", "web@2")[1])["resource_allocation"]["vcpus"] == 2


@pytest.mark.django_db
def test_export_without_approved_version_prints_the_latest(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_create_draft(
        user=users["author"], policy=v.policy, document=make_document("web", description="2")
    )
    assert json.loads(vppd("export", "web")[1])["description"] == "2"


@pytest.mark.django_db
def test_export_never_contains_a_plain_key(users, make_document, write):
    vppd("import", write(encrypted(make_document)), "--profile", "vault", "--as", "author")
    code, out, err = vppd("export", "vault@1")
    assert code == 0
    assert SECRET not in out + err
    encryption = json.loads(out)["data_volume_definitions"][0]["encryption"]
    assert set(encryption) == {"enabled", "key_ref"}
    assert volume_key_reveal(name=encryption["key_ref"]) == SECRET


@pytest.mark.django_db
def test_diff_prints_one_line_per_change(two_versions):
    code, out, _ = vppd("diff", "web@1", "web@2")
    assert code == 0
    assert out.splitlines() == [
        '- /description: "one"',
        '+ /execution_flags/1: "web"',
        "~ /resource_allocation/vcpus: 1 -> 2",
    ]
    code, out, err = vppd("diff", "web@2", "web@2")
    assert (code, out) == (0, "")
    assert "same document" in err


@pytest.mark.django_db
def test_list_shows_approved_and_latest(two_versions, users, make_document):
    svc.policy_create(user=users["author"], document=make_document("db", description="Databases"))
    code, out, _ = vppd("list")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows[0][:5] == ["NAME", "APPROVED", "LATEST", "VERSIONS", "PENDING"]
    assert rows[1][:5] == ["db", "-", "1", "1", "0"]
    assert rows[2][:5] == ["web", "1", "2", "2", "0"]
    code, out, _ = vppd("list", "--status", "approved")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["web"]


@pytest.mark.django_db
def test_show_profile_and_version(two_versions):
    code, out, _ = vppd("show", "web")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["VERSION", "STATUS", "AUTHOR", "REVIEWER"]
    assert lines[2].split()[:4] == ["web@2", "draft", "author", "-"]
    assert lines[3].split()[:4] == ["web@1", "approved", "author", "approver"]

    code, out, _ = vppd("show", "web@1")
    assert code == 0
    header = dict(line.split(":", 1) for line in out.splitlines())
    assert header["version"].strip() == "web@1"
    assert header["status"].strip() == "approved"
    assert header["reviewer"].strip() == "approver"
    assert header["content hash"].strip() == two_versions.content_hash


# --- rotate_kek -----------------------------------------------------------------------


@pytest.mark.django_db
def test_rotate_kek_held_in_a_file(settings, tmp_path):
    settings.VMPERSONA_KEK = ""
    settings.VMPERSONA_KEK_FILE = tmp_path / "kek"
    key = volume_key_create(plain=SECRET, name_hint="vol")
    old_kek = (tmp_path / "kek").read_text().strip()
    old_cipher = key.ciphertext

    code, out, err = run("rotate_kek")
    assert code == 0
    new_kek = (tmp_path / "kek").read_text().strip()
    assert new_kek != old_kek
    assert "Re-encrypted 1 volume key(s)" in out
    assert str(tmp_path / "kek") in out
    assert old_kek not in out + err and new_kek not in out + err
    assert VolumeKey.objects.get(pk=key.pk).ciphertext != old_cipher
    assert volume_key_reveal(name=key.name) == SECRET


def fernet_key(first: str = "") -> str:
    """A fresh Fernet key, optionally one whose text starts with ``first``."""
    while True:
        key = Fernet.generate_key().decode()
        if key.startswith(first):
            return key


@pytest.mark.django_db
@pytest.mark.parametrize("first", ["", "-"], ids=["any-key", "key-starting-with-dash"])
def test_rotate_kek_from_environment_prints_only_the_new_key(settings, first):
    old_kek = fernet_key()
    new_kek = fernet_key(first)
    settings.VMPERSONA_KEK = old_kek
    key = volume_key_create(plain=SECRET, name_hint="vol")

    code, out, err = run("rotate_kek", "--new-key", new_kek)
    assert code == 0
    assert f"new key: {new_kek}" in out
    assert "VMPERSONA_KEK" in out
    assert old_kek not in out + err
    assert volume_key_reveal(name=key.name) == SECRET
    # Only the new key is needed from now on.
    settings.VMPERSONA_KEK = new_kek
    assert volume_key_reveal(name=key.name) == SECRET


@pytest.mark.django_db
def test_rotate_kek_rejects_a_malformed_key_without_echoing_it(settings, tmp_path):
    settings.VMPERSONA_KEK = ""
    settings.VMPERSONA_KEK_FILE = tmp_path / "kek"
    key = volume_key_create(plain=SECRET, name_hint="vol")
    before = (tmp_path / "kek").read_text()
    code, out, err = run("rotate_kek", "--new-key", "not-a-fernet-key-value")
    assert code == 1
    assert "not-a-fernet-key-value" not in out + err
    assert (tmp_path / "kek").read_text() == before
    assert VolumeKey.objects.get(pk=key.pk).ciphertext == key.ciphertext


@pytest.mark.django_db
def test_rotate_kek_reads_the_new_key_from_a_file(settings, tmp_path):
    settings.VMPERSONA_KEK = fernet_key()
    key = volume_key_create(plain=SECRET, name_hint="vol")
    new_kek = fernet_key("-")
    (tmp_path / "new").write_text(new_kek + "\n")

    code, out, err = run("rotate_kek", "--new-key-file", str(tmp_path / "new"))
    assert code == 0, err
    assert f"new key: {new_kek}" in out
    settings.VMPERSONA_KEK = new_kek
    assert volume_key_reveal(name=key.name) == SECRET


@pytest.mark.django_db
def test_rotate_kek_reads_the_new_key_from_standard_input(settings, monkeypatch):
    settings.VMPERSONA_KEK = fernet_key()
    key = volume_key_create(plain=SECRET, name_hint="vol")
    new_kek = fernet_key()
    monkeypatch.setattr(sys, "stdin", io.StringIO(new_kek + "\n"))

    code, out, err = run("rotate_kek", "--new-key-file", "-")
    assert code == 0, err
    settings.VMPERSONA_KEK = new_kek
    assert volume_key_reveal(name=key.name) == SECRET


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content", [None, "", "not-a-fernet-key-value"], ids=["missing", "empty", "malformed"]
)
def test_rotate_kek_refuses_an_unusable_key_file_and_changes_nothing(settings, tmp_path, content):
    settings.VMPERSONA_KEK = ""
    settings.VMPERSONA_KEK_FILE = tmp_path / "kek"
    key = volume_key_create(plain=SECRET, name_hint="vol")
    before = (tmp_path / "kek").read_text()
    path = tmp_path / "new"
    if content is not None:
        path.write_text(content)

    code, out, err = run("rotate_kek", "--new-key-file", str(path))
    assert code == 1
    assert str(path) in err or "valid Fernet key" in err
    assert "not-a-fernet-key-value" not in out + err
    assert (tmp_path / "kek").read_text() == before
    assert VolumeKey.objects.get(pk=key.pk).ciphertext == key.ciphertext


@pytest.mark.django_db
def test_superuser_who_edited_a_draft_cannot_review_it_via_cli(users, make_document, write):
    vppd("import", write(make_document("web")), "--profile", "web", "--as", "author")
    v = PolicyVersion.objects.get(policy__name="web", number=1)
    svc.version_update_draft(
        user=users["admin"], version=v, document=make_document("web", description="edited")
    )
    vppd("submit", "web@1", "--as", "author")
    for action in ("approve", "reject"):
        code, out, err = vppd(action, "web@1", "--as", "admin", "--comment", "fine")
        assert code == 3, action
        assert out == ""
        assert "admin wrote web@1" in err
    assert status_of("web", 1) == VersionStatus.PENDING


@pytest.mark.django_db
def test_lone_surrogates_and_duplicate_keys_exit_1_with_their_path(users, make_document, write):
    text = json.dumps(make_document("web")).replace(
        '"The smallest valid profile."', '"bad \\udc80"'
    )
    assert vppd("validate", write(text), "--offline") == (
        1,
        "/description: holds a lone UTF-16 surrogate (\\udc80), which is not a character; "
        "write the character itself or a complete surrogate pair\n",
        "",
    )
    code, _, err = vppd("import", write(text), "--profile", "web", "--as", "author")
    assert code == 1 and err.startswith("/description: holds a lone")
    good = write(make_document("web"), name="good.json")
    code, _, err = vppd("import", good, "--profile", "web", "--as", "author", "--note", "\udc80")
    assert (code, err.split(":")[0]) == (1, "change_note")
    assert not Policy.objects.exists()
