"""Reconciliation: does the vault hold, for every folder, what the source holds?

Per folder the source's item count now is compared with the items the state database says the
vault holds there (captured, or accountably excluded as private, or outside the designation's
window). Where counts differ, or the source offers no count (calendarViews, contact folders, To Do
lists), the folder is listed in full and the differences named by item id.
A run with items in the source that the vault lacks, and no open error explaining them, is
incomplete.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from capstone.capture.failures import SOURCE_FAILURES, failure_reason, folder_error_id
from capstone.capture.state import CaptureState
from connectors.base import ChangeSource, FolderInfo


@dataclass
class FolderReconciliation:
    folder_id: str
    path: str
    hidden: bool
    source_count: int
    vault_count: int  # captured items
    excluded: int
    out_of_window: int
    missing: list[str] = field(default_factory=list)  # in the source, not in the vault
    extra: list[str] = field(default_factory=list)  # held for this folder, no longer in it at the source
    explained: list[str] = field(default_factory=list)  # missing but recorded as open capture errors
    error: str | None = None  # the source could not be listed: the folder cannot be reconciled

    @property
    def ok(self) -> bool:
        return self.error is None and not [m for m in self.missing if m not in self.explained]


@dataclass
class Reconciliation:
    account: str
    folders: list[FolderReconciliation]
    mailbox_kind: str = "primary"

    @property
    def complete(self) -> bool:
        return all(f.ok for f in self.folders)

    def differences(self) -> list[dict[str, Any]]:
        return [
            {
                "folder": f.path,
                "missing": f.missing,
                "extra": f.extra,
                "explained_by_open_errors": f.explained,
            }
            | ({"error": f.error} if f.error else {})
            for f in self.folders
            if f.missing or f.extra or f.error
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "mailbox_kind": self.mailbox_kind,
            "complete": self.complete,
            "source_items": sum(f.source_count for f in self.folders),
            "vault_items": sum(f.vault_count for f in self.folders),
            "excluded": sum(f.excluded for f in self.folders),
            "out_of_window": sum(f.out_of_window for f in self.folders),
            "folders": [asdict(f) | {"ok": f.ok} for f in self.folders],
            "differences": self.differences(),
        }


async def reconcile_mailbox(
    mailbox: ChangeSource, state: CaptureState, account: str, kind: str = "primary"
) -> Reconciliation:
    folders: list[FolderInfo] = await mailbox.list_folders()
    held = state.held_by_folder(account, kind)
    open_errors = {e["item_id"] for e in state.open_errors(account, kind)}
    results = []
    for folder in folders:
        counts = held.get(folder.folder_id, {})
        captured = counts.get("captured", 0)
        excluded = counts.get("excluded", 0)
        out_of_window = counts.get("out_of_window", 0)
        entry = FolderReconciliation(
            folder_id=folder.folder_id,
            path=folder.path,
            hidden=folder.hidden,
            source_count=folder.total_items or 0,
            vault_count=captured,
            excluded=excluded,
            out_of_window=out_of_window,
        )
        source_ids = None
        try:
            if folder.total_items is None:
                source_ids = await mailbox.list_item_ids(folder.folder_id)
                entry.source_count = len(source_ids)
            if entry.source_count != captured + excluded + out_of_window and source_ids is None:
                source_ids = await mailbox.list_item_ids(folder.folder_id)
        except SOURCE_FAILURES as exc:  # one folder the source will not list is not a failed run
            entry.error = f"listing: {failure_reason(exc)}"[:500]
            results.append(entry)
            continue
        if source_ids is not None and entry.source_count != captured + excluded + out_of_window:
            held_ids = state.item_ids_in_folder(account, kind, folder.folder_id)
            entry.missing = sorted(source_ids - held_ids)
            entry.extra = sorted(held_ids - source_ids)
            # A folder whose delta page failed explains every item of it the vault lacks.
            folder_failed = folder_error_id(folder.folder_id) in open_errors
            entry.explained = entry.missing if folder_failed else sorted(set(entry.missing) & open_errors)
        results.append(entry)
    return Reconciliation(account=account, folders=results, mailbox_kind=kind)
