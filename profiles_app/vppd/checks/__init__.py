"""The VPPD's semantic rules, the ones a JSON Schema cannot express, one module per
section. Each check is named by the top-level section it reads; it runs only when that
section passed the schema."""

from __future__ import annotations

from profiles_app.jsondoc.checking import Check
from profiles_app.vppd.checks.components import check_agents, check_applications, check_runtimes
from profiles_app.vppd.checks.flags import check_fixes, check_flags
from profiles_app.vppd.checks.health import check_health_watch
from profiles_app.vppd.checks.network import check_network
from profiles_app.vppd.checks.resources import check_resources
from profiles_app.vppd.checks.security import check_security
from profiles_app.vppd.checks.text import check_description
from profiles_app.vppd.checks.volumes import check_volumes

SEMANTIC_CHECKS: tuple[tuple[str, Check], ...] = (
    ("description", check_description),
    ("application_manifest", check_applications),
    ("data_volume_definitions", check_volumes),
    ("network_configuration", check_network),
    ("resource_allocation", check_resources),
    ("security_profile", check_security),
    ("runtime_environment", check_runtimes),
    ("monitoring_agents", check_agents),
    ("execution_flags", check_flags),
    ("fixes", check_fixes),
    ("health_watch", check_health_watch),
)
