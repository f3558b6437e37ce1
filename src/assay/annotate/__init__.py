"""Human rating campaigns: creation, assignment, submission, gold feedback and the edge-case queue."""

from assay.annotate.campaigns import (
    CampaignSpec,
    Gold,
    campaign_kind,
    campaign_dimensions,
    close_campaign,
    create_campaign,
    get_campaign,
    gold_from_text,
    read_gold,
    unit_id,
    units_from_dataset,
)
from assay.annotate.edges import (
    collect_edge_cases,
    dismiss_edge_case,
    edge_case_queue,
    resolve_edge_case,
)
from assay.annotate.queue import (
    AVAILABLE_SHOWN,
    QueueStatus,
    can_rate,
    is_open,
    next_assignment,
    queue_status,
    queue_status_of,
    shown_order,
)
from assay.annotate.skip import skip
from assay.annotate.submit import (
    Answer,
    Prepared,
    Submitted,
    build_records,
    edge_records,
    feedback,
    prepare,
    submit,
    write_only,
    written,
)

__all__ = [
    "AVAILABLE_SHOWN", "Answer", "CampaignSpec", "Gold", "Prepared", "QueueStatus", "Submitted", "build_records",
    "campaign_dimensions", "campaign_kind",
    "can_rate", "close_campaign", "collect_edge_cases", "create_campaign", "dismiss_edge_case", "edge_case_queue",
    "edge_records", "feedback", "get_campaign", "gold_from_text", "is_open", "next_assignment", "prepare",
    "queue_status", "queue_status_of", "read_gold", "resolve_edge_case", "shown_order", "skip", "submit", "unit_id",
    "units_from_dataset", "write_only", "written",
]
