"""What the scheduler hands the engine: one designated account to capture, with its window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CaptureTarget:
    designation_id: str
    account: str  # the Graph user id, UPN or primary SMTP address
    official: str
    function: str | None = None
    decision_reference: str | None = None
    capture_mail: bool = True
    capture_chats: bool = True
    content_from: datetime | None = None  # None: the whole mailbox, also before the designation
    content_until: datetime | None = None  # exclusive; None: open-ended designation
    final: bool = False  # the designation has ended: this is its last capture
    # The registry's on-premises Exchange endpoint (None: Exchange Online): picks the connector.
    exchange_endpoint: str | None = None
    address: str | None = None  # the primary SMTP address (EWS impersonates by it)
    extra: dict[str, Any] = field(default_factory=dict)

    def designation_record(self) -> dict[str, Any]:
        return {
            "designation_id": self.designation_id,
            "official": self.official,
            "function": self.function,
            "decision_reference": self.decision_reference,
        }

    def in_window(self, received: str | None) -> bool:
        if received is None or (self.content_from is None and self.content_until is None):
            return True
        moment = datetime.fromisoformat(received.replace("Z", "+00:00"))
        if self.content_from is not None and moment < self.content_from:
            return False
        return not (self.content_until is not None and moment >= self.content_until)
