"""The service: the one API the UI and the CLI call. `FinsentService` and the records it returns."""

from __future__ import annotations

from finsent.service.facade import BackendInfo, FinsentService

__all__ = ["BackendInfo", "FinsentService"]
