"""Where the cache, the records and the store live (``OBLIVIATE_HOME``, ``--home``).

Torch-free: the CLI makes one before it knows whether the command trains anything, and
``obliviate report`` or ``runs`` must not wait for torch. The cache (torch, safetensors) and
the store (SQLAlchemy) are imported when first asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from obliviate.errors import ObliviateError

if TYPE_CHECKING:
    from obliviate.storage.cache import ModelCache
    from obliviate.storage.store import Store


@dataclass(frozen=True)
class Workspace:
    home: Path
    store_url: str | None = None

    @property
    def cache(self) -> ModelCache:
        from obliviate.storage.cache import ModelCache

        return ModelCache(self.home / "cache")

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    def store(self) -> Store:
        from obliviate.storage.store import Store, sqlite_url

        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ObliviateError(f"cannot create home directory {str(self.home)!r}: "
                                 f"{e.strerror}") from None
        return Store(self.store_url or sqlite_url(self.home / "runs.sqlite"))
