"""Platform URIs: only the libvirt transports the product drives; ``test:///default``
only where a setting allows it, other ``test:///<file>`` URIs never (they read files on
this server). The error names the field."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from operations_app.models import Platform
from operations_app.services import platforms as platform_services
from vmpersona.errors import error_list

pytestmark = pytest.mark.django_db

ACCEPTED = [
    "qemu:///system",
    "qemu:///session",
    "qemu+ssh://root@host-b.example/system",
    "qemu+ssh://root@host-b.example:2222/system?no_tty=1",
    "qemu+tls://host-c.example/system",
    "qemu+tcp://10.0.0.2/system",
    "qemu+unix:///system?socket=/run/libvirt/libvirt-sock",
    "qemu+libssh2://root@host-b/system?sshauth=privkey",
    "qemu+libssh://root@host-b/system",
]

REFUSED = [
    "test:///etc/passwd",
    "test:///default?x=1",
    "test://host/default",
    "http://example.com/",
    "xen:///system",
    "lxc:///",
    "qemu://host/system",  # plain qemu takes no host; say qemu+tls://
    "qemu:///etc",
    "qemu+ssh:///system",  # remote transport without a host
    "qemu+ssh://host/system?command=/bin/sh",
    "qemu+ssh://host/system?netcat=/tmp/x",
    "qemu+tls://host/system?pkipath=/root",
    "qemu+ssh://host/system?keyfile=/etc/shadow",
    "qemu:///system\n",
    "qemu:///system #x",
]


def _errors(uri: str, field: str = "uri") -> list[dict]:
    try:
        platform_services._check_uri(uri, field=field)
    except ValidationError as exc:
        return error_list(exc)
    return []


@pytest.mark.parametrize("uri", ACCEPTED)
def test_supported_transports_are_accepted(uri):
    assert _errors(uri) == []


@pytest.mark.parametrize("uri", REFUSED)
def test_other_uris_are_refused_naming_the_field(uri):
    errors = _errors(uri)
    assert errors and errors[0]["path"] == "uri", errors
    assert "not a libvirt URI" in errors[0]["message"]


def test_migration_uri_errors_name_their_field():
    assert _errors("test:///etc/passwd", field="migration_uri")[0]["path"] == "migration_uri"


def test_the_test_driver_only_where_allowed(settings):
    settings.VMPERSONA_ALLOW_TEST_DRIVER = True
    assert _errors("test:///default") == []
    assert _errors("test:///etc/passwd")  # never another file
    settings.VMPERSONA_ALLOW_TEST_DRIVER = False
    errors = _errors("test:///default")
    assert errors and "test driver is not enabled" in errors[0]["message"]


def test_creating_a_platform_with_a_file_uri_leaves_no_row(settings):
    settings.VMPERSONA_ALLOW_TEST_DRIVER = True
    with pytest.raises(ValidationError) as caught:
        platform_services.platform_create(name="sneaky", uri="test:///etc/hostname")
    assert error_list(caught.value)[0]["path"] == "uri"
    assert not Platform.objects.filter(name="sneaky").exists()


def test_the_allow_switch_follows_testing_debug_and_the_environment(tmp_path):
    from tests.test_security_production import settings_value

    env = {"DJANGO_DEBUG": "0"}
    assert settings_value(tmp_path, "VMPERSONA_ALLOW_TEST_DRIVER", **env) is False
    assert (
        settings_value(tmp_path, "VMPERSONA_ALLOW_TEST_DRIVER", VMPERSONA_ALLOW_TEST_DRIVER="1")
        is True
    )
    assert settings_value(tmp_path, "VMPERSONA_ALLOW_TEST_DRIVER", DJANGO_DEBUG="1") is True
