"""The JSON the REST API answers with, as Pydantic models for the OpenAPI document.

The endpoints return the services' own JSON (``to_json()``), unchanged; these models describe it
exactly (``extra="forbid"``: a key the model does not name fails tests/web/test_api.py's comparison
of real responses with the document). Parts whose keys depend on their kind (a capture warning)
name what every kind has and allow the rest.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- registry ----------------------------------------------------------------------------------------


class PublicEntry(Strict):
    name: str
    function: str
    category: str = Field(description="The category's Dutch label")
    start_date: date
    end_date: date | None
    decision_reference: str


class AccountOut(Strict):
    primary_smtp: str
    aliases: list[str]
    entra_object_id: str | None
    upn: str | None
    exchange_endpoint: str | None


class CaptureScopeOut(Strict):
    mail: bool
    chats: bool
    include_history: bool


class DesignationOut(Strict):
    designation_id: str
    name: str
    personnel_number: str | None
    accounts: list[AccountOut]
    function: str
    organisation_unit: str
    category: str
    start_date: date
    end_date: date | None
    deciding_body: str
    decision_date: date
    decision_reference: str
    scope: CaptureScopeOut
    version: int
    registered_by: str
    registered_at: datetime
    updated_at: datetime
    withdrawn: bool
    withdrawn_at: datetime | None
    withdrawal_reason: str | None


# -- capture -----------------------------------------------------------------------------------------


class NotCaptured(Strict):
    item_id: str | None
    folder: str | None
    status: str | int | None
    error: str | None


class RunCauseOut(Strict):
    """Why the run did not complete, as counts (the web words it in Dutch)."""

    error: str | None = Field(description="The first line of the error that stopped the run")
    not_captured: int = Field(description="Items or parts left as open errors")
    differences: int = Field(description="Unexplained differences reconciliation found")


class LastRun(Strict):
    run_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    reason: str | None = Field(description="Why the run is not complete, in English (as the CLI says it)")
    cause: RunCauseOut
    not_captured: list[NotCaptured]


class LastSuccess(Strict):
    run_id: str
    finished_at: datetime


class Reconciliation(Strict):
    complete: bool
    source_items: int
    vault_items: int
    excluded: int
    differences: list[dict[str, str | int | None]] | int


class PartTotals(Strict):
    items: int
    bytes: int


class OpenError(Strict):
    item_id: str
    folder_id: str | None
    folder: str | None
    kind: str
    error: str
    attempts: int
    run_id: str | None


class AccountStatus(Strict):
    account: str
    source: str
    designation_id: str | None
    official: str | None
    last_run: LastRun
    last_success: LastSuccess | None
    lag_seconds: float | None
    last_reconciliation: Reconciliation | None
    items: int
    bytes: int
    by_kind: dict[str, PartTotals]
    open_errors: list[OpenError]


class LeaseOut(Strict):
    account: str
    token: int
    acquired_at: datetime | None
    age_seconds: float | None
    expires_in_seconds: float | None
    expired: bool


class WorkerOut(Strict):
    worker_id: str
    host: str | None = None
    pid: int | None = None
    concurrency: int | None = None
    started_at: datetime | None = None
    heartbeat_age_seconds: float | None = None
    state: Literal["alive", "silent", "stopped", "unknown"]
    accounts_done: int | None = None
    leases_lost: int | None = None
    leases: list[LeaseOut]


class Queue(Strict):
    accounts: int
    active: int
    due_now: int


class Workers(Strict):
    workers: list[WorkerOut]
    queue: Queue


class CaptureWarning(BaseModel):
    """A warning: its message, and the fields of its kind (a designation that cannot be scheduled,
    Teams chats or phone imports captured too long ago)."""

    model_config = ConfigDict(extra="allow")
    message: str


class CaptureStatus(Strict):
    at: datetime
    workers: Workers
    chat_max_age_seconds: float
    warnings: list[CaptureWarning]
    accounts: list[AccountStatus]


# -- Woo ---------------------------------------------------------------------------------------------

DocumentKindOut = Literal[
    "mail", "attachment", "chat-message", "event", "contact", "task", "item", "phone-chat", "phone-message"
]


class WooCaseOut(Strict):
    ref: str
    subject: str
    requester: str | None
    received: date
    status: Literal["open", "closed"]
    decision_due: date
    extended_due: date
    zienswijze_by: date
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    officers: list[str]


class QueryOut(Strict):
    text: str
    officials: list[str]
    accounts: list[str]
    date_from: date | None
    date_to: date | None
    folder: str | None
    sender: str | None
    recipient: str | None
    has_attachment: bool | None
    kinds: list[str]
    limit: int
    offset: int
    order: Literal["date", "relevance"]


class HitOut(Strict):
    doc_id: str
    record_id: str
    kind: str
    date: datetime | None
    official: str
    account: str
    folder_path: str
    title: str
    snippet: str = Field(description="An excerpt with the matched terms marked [[like this]]")
    duplicate_key: str
    duplicates: int
    blob_sha256: str | None
    parent_id: str
    score: float


class SearchOut(Strict):
    query: QueryOut
    total: int
    metadata_only: int
    hits: list[HitOut]


class IndexDocumentOut(Strict):
    doc_id: str
    record_id: str
    kind: str
    blob_sha256: str | None
    duplicate_key: str
    official: str
    designation_id: str
    account: str
    mailbox_kind: str
    folder_path: str
    date: datetime | None
    sender: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    body: str | None
    attachment_names: list[str]
    message_id: str
    thread_id: str
    chat_id: str
    participants: list[str]
    parent_id: str
    filename: str
    media_type: str
    size: int
    notes: list[str]


class DuplicateOut(Strict):
    doc_id: str
    account: str
    official: str
    folder_path: str


class RelatedOut(DuplicateOut):
    blob_sha256: str | None


class DocumentViewOut(Strict):
    document: IndexDocumentOut
    attachments: list[IndexDocumentOut] = Field(description="Without their text (body is null)")
    duplicates: list[DuplicateOut]
    related: list[RelatedOut]


# -- audit -------------------------------------------------------------------------------------------


class AuditEntryOut(Strict):
    seq: int
    at: datetime
    actor: str
    role: str | None
    action: str
    case_ref: str | None
    outcome: Literal["allowed", "refused"]
    detail: dict[str, object]
    prev_hash: str
    entry_hash: str


class AuditReportOut(Strict):
    ok: bool
    entries: int
    seals: int
    sealed_through: int
    first_bad_seq: int | None
    anchors: int
    anchored_through: int
    timestamped: int
    problems: list[str]
    notes: list[str]


# -- Woo review --------------------------------------------------------------------------------------

JudgementOut = Literal["public", "partial_public", "already_public", "not_public"]


class AssessmentOut(Strict):
    seq: int
    case: str
    doc_id: str
    judgement: JudgementOut
    beoordeling: str = Field(description="The judgement's Dutch label")
    grounds: list[str]
    toelichting: str
    link: str | None
    batch: str
    assessed_by: str
    assessed_at: datetime


class EffectiveAssessment(AssessmentOut):
    follows: str | None = Field(description="The original's doc_id, for a copy that follows it")
    kind: str


class MarkOut(Strict):
    mark_id: str
    doc_id: str
    status: Literal["proposed", "accepted", "rejected", "withdrawn"]
    kind: Literal["text", "region"]
    ground: str
    text: str | None
    page: int | None
    rect: list[float] | None = Field(description="x0, y0, x1, y1 in PDF points from the top left")
    origin: str = Field(description="officer, or suggestion:<kind>")
    changed_by: str
    changed_at: datetime


class AssessResultOut(Strict):
    case: str
    assessed: list[AssessmentOut]
    marks: list[MarkOut] = Field(description="The marks placed with the assessment (text null)")


class ApprovalOut(Strict):
    approver: str
    approved_at: datetime
    note: str
    through_assessment: int
    through_mark: int


class ReviewStateOut(Strict):
    case: str
    approval_required: bool
    approved: bool
    approval: ApprovalOut | None
    assessors: list[str]


class PublishReportOut(Strict):
    case: str
    directory: str
    documents: int
    pdfs: int
    zips: list[str]
    derived_records: list[str]
    productierapport: list[str]


# -- retention ---------------------------------------------------------------------------------------


class RetentionStatusOut(Strict):
    vault: str
    worm: bool
    note: str | None
    window: str
    margin: str
    default_term: str
    terms: dict[str, str]
    objects: int
    in_window: int
    secured: int
    excluded_pending_removal: int
    held: int
    due_for_destruction: int
    removed_with_record: int
    missing: int
    past_window_not_secured: int
    exclusions: dict[str, int]
    active_holds: int


class RunReportOut(Strict):
    objects: int
    in_window: int
    secured: int
    already_secured: int
    excluded_waiting: int
    excluded_deleted: int
    held: int
    accounted: int
    missing: list[str]


class OwnItemOut(Strict):
    record_id: str
    kind: str
    mailbox: str | None
    folder: str | None
    received: str | None
    captured_at: datetime
    designation_id: str | None
    chat_id: str | None
    owner: str | None
    item_id: str | None
    conversation_id: str | None
    window_ends: datetime
    mark: Literal["marked", "confirmed", "refused"] | None


class ExclusionOut(Strict):
    exclusion_id: str
    scope: str
    value: str
    category: str
    reason: str
    status: Literal["marked", "confirmed", "refused"]
    marked_by: str
    marked_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    record_ids: list[str]


class HoldOut(Strict):
    hold_id: str
    ref: str
    kind: Literal["woo-case", "legal"]
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    blobs: list[str]


class DestructionListOut(Strict):
    list_id: str
    status: str
    proposed_by: str
    approved_by: str | None
    decision_ref: str | None
    groups: list[dict[str, object]] = Field(description="Per retention class and period: counts")
    items: int
    destroyed: int
    refused: list[dict[str, str]]
    certificate_sha256: str | None
    proposed_at: datetime | None
    approved_at: datetime | None
    destroyed_at: datetime | None


# -- background jobs ---------------------------------------------------------------------------------


class JobOut(Strict):
    """A background job (vault verify, export, publication) as its owner polls it."""

    job_id: str
    kind: Literal["vault-verify", "export", "publish"]
    title: str = Field(description="What the job does, in Dutch (as the job page shows it)")
    status: Literal["running", "done", "failed"]
    done: int = Field(description="Units of work done so far (objects, documents)")
    total: int = Field(description="Units of work in all; 0 while not yet known")
    percent: int
    result: dict[str, object] = Field(description="What the job produced, once done (its service's report)")
    download: bool = Field(description="Whether the job left an archive to download (the web page offers it)")
    error_kind: str | None = Field(description="interrupted, or the failure's type and its bases")
    error: str | None = Field(description="Why it failed (English, for operators)")
    started_at: datetime
    finished_at: datetime | None
