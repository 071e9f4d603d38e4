"""The in-guest half of a clone: install, configure and verify what a VPPD asks for
inside a running guest, through its QEMU guest agent only.

    from operations_app.guest import GuestProvisioner, GuestStepError, CheckResult

    guest = GuestProvisioner(hv, "web1", log=print, heartbeat=beat, cancelled=is_cancelled)
    guest.wait_ready(timeout=300)                      # agent up, boot scripts done
    guest.set_hostname("web1")                          # now and in /etc/hostname
    guest.install_runtime(doc["runtime_environment"])   # install methods below
    guest.install_applications(doc["application_manifest"])
    guest.setup_volumes(doc["data_volume_definitions"], {"pgdata": "/dev/vdb"})
    guest.configure_network(doc["network_configuration"]["interfaces"], ["52:54:00:..."])
    guest.apply_security(doc["security_profile"])
    guest.deploy_monitoring(doc["monitoring_agents"])
    checks = guest.verify(doc, devices={"pgdata": "/dev/vdb"}, macs=["52:54:00:..."])
    guest.reboot()                                      # and wait until ready again

What each step does in the guest:

- ``install_*``: ``script`` runs the script (uploaded to a root-only file) with its
  shell and timeout; ``files`` writes each file atomically (temporary file, owner, mode,
  rename), then runs ``then``; ``package`` uses apt-get/dnf/apk/zypper when the guest has
  the named manager, else fails at ``.../install/manager``. Applications follow
  ``depends_on``, then their ``config`` files are written.
- ``setup_volumes``: ``mkfs`` only when ``blkid`` finds no signature (an existing file
  system of another type, or a partition table, is an error, never reformatted); what
  the mount point already held is copied onto a new file system before it is mounted
  there; an ``UUID=`` line in /etc/fstab; mounted now, and at boot by
  /etc/init.d/S05vmp-mounts when the image's init does not mount fstab itself.
- ``configure_network``: /etc/vmpersona/network.conf (MAC, name, static address,
  gateway, metric or dhcp) applied by /etc/init.d/S10network now and at every boot (NICs
  found by MAC and renamed; udhcpc for DHCP); name servers in /etc/resolv.conf; waits
  until the agent reports the addresses.
- ``apply_security``: groups (groupadd/groupmod), users (useradd/usermod: uid, home,
  shell, supplementary groups), ``~/.ssh/authorized_keys`` (0600, the user's), sudo rules
  in /etc/sudoers.d/<user> (0440; removed for ``sudo: false``), permissions
  (chown/chgrp/chmod, ``-R`` when recursive), intrusion detection (see ``ids``).
- ``deploy_monitoring``: install, /etc/<name>/config.json, then the agent's program (the
  executable of its files named like the agent or its process, else found on the PATH)
  registered in /etc/vmpersona/agents and started by /etc/init.d/S90vmp-agents, now
  (restarted when its configuration changed) and at every boot.

Every step is idempotent: files are rewritten, accounts modified rather than re-created,
file systems never re-made, boot scripts replaced. Scripts of the document run again,
so they must be idempotent themselves (the examples are). Provisioning steps that change
files re-record the builtin intrusion-detection baseline, so it describes the
provisioned state whatever order the steps ran in.

Failures raise ``GuestStepError`` (message with exit code and error output tail,
``pointer`` of the VPPD element); cancellation, checked between items, raises
``GuestCancelled``. Values from the document reach the guest only as argv elements or
file contents, after their schema pattern is checked again (``validation``).

``verify`` returns one ``CheckResult`` per element seen from inside the guest: the base
image (OS id or the image's marker), each app's and runtime's verify command or
process, each app config file (content, owner, mode), each volume (mounted device and
file system, size, fstab), each interface (name, address by MAC, gateway, DNS, boot
configuration), each group, user (account, groups, SSH keys, sudo rule), permission,
intrusion detection (baseline check clean, schedule), each monitoring agent (verify,
configuration, started at boot). Resources and firewall rules are checked on the
libvirt side, not here.

Boot persistence targets images whose init runs /etc/init.d/S??* scripts (busybox rcS,
as tiny-linux); on others the steps that need it fail with a clear message.
"""

from .errors import GuestCancelled, GuestStepError
from .provisioner import GuestProvisioner
from .results import SECTIONS, CheckResult

__all__ = ["SECTIONS", "CheckResult", "GuestCancelled", "GuestProvisioner", "GuestStepError"]
