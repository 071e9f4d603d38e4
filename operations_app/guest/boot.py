"""Boot persistence: the image's init and the boot scripts this library installs."""

from __future__ import annotations

from . import guestfiles as gf
from .errors import GuestStepError
from .session import FileSpec, GuestSession

_RCS_STYLE = r'grep -qs "/etc/init.d/S\[0-9\]\[0-9\]" /etc/init.d/rcS'
_RCS_MOUNTS = r'grep -qsE "(^|[;&|[:space:]])mount[[:space:]]+-a" /etc/init.d/rcS'


class Boot:
    """What the guest runs at boot, and the scripts we add to it."""

    def __init__(self, session: GuestSession) -> None:
        self.s = session
        self._style: str | None = None
        self._mounts_fstab: bool | None = None

    @property
    def style(self) -> str:
        """``rcs`` when ``/etc/init.d/rcS`` runs ``/etc/init.d/S??*`` scripts, else ``other``."""
        if self._style is None:
            result = self.s.sh(_RCS_STYLE, what="inspect the boot scripts", check=False, quiet=True)
            self._style = "rcs" if result.exit_code == 0 else "other"
        return self._style

    def mounts_fstab(self) -> bool:
        """Whether the image's init mounts /etc/fstab by itself."""
        if self.style != "rcs":
            return True  # systemd and sysvinit distributions do
        if self._mounts_fstab is None:
            result = self.s.sh(_RCS_MOUNTS, what="inspect rcS", check=False, quiet=True)
            self._mounts_fstab = result.exit_code == 0
        return self._mounts_fstab

    def require(self, purpose: str, pointer: str) -> None:
        if self.style != "rcs":
            raise GuestStepError(
                f"{purpose} across reboots needs an init that runs /etc/init.d/S??* scripts "
                "(busybox rcS, as in tiny-linux); this guest's init is not supported yet",
                pointer=pointer,
            )

    def install(self, path: str, text: str, *, pointer: str, what: str) -> None:
        """Install a boot script (and the end-of-boot marker script)."""
        files = [FileSpec(path, text.encode(), mode="0755", pointer=pointer)]
        if path != gf.READY_SCRIPT:
            files.append(FileSpec(gf.READY_SCRIPT, gf.READY.encode(), mode="0755", pointer=pointer))
        self.s.write_files(files, what=what)
        # this boot's scripts have run: mark it, as the script will at every next boot
        self.s.sh(
            '[ -e "$1" ] || "$2" start',
            gf.BOOT_MARKER,
            gf.READY_SCRIPT,
            what="mark the boot complete",
            pointer=pointer,
            quiet=True,
        )
