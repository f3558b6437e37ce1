"""The store's tables (SQLAlchemy Core). One table per record kind; migrations create them.

Nested fields (messages, tags, metadata, lists of ids) are JSON columns. A record's
fields map one-to-one onto columns, except rubrics, kept whole as a JSON spec.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
    true,
)

metadata = MetaData()

TS = DateTime(timezone=True)
# None is stored as SQL NULL (not the JSON text "null"), the same on every write path.
J = JSON(none_as_null=True)

datasets = Table(
    "datasets",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("source", Text),
    Column("created_at", TS, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("dataset", String(200), ForeignKey("datasets.name"), nullable=False),
    Column("external_id", Text),
    Column("prompt", Text),
    Column("messages", J),
    Column("reference", Text),
    Column("category", String(200)),
    Column("language", String(50)),
    Column("tags", J, nullable=False),
    Column("cluster", String(200)),
    Column("metadata", J, nullable=False),
    Index("ix_items_dataset", "dataset"),
)

models = Table(
    "models",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("provider", String(50), nullable=False),
    Column("base_url", Text),
    Column("api_key_env", String(200)),
    Column("family", String(200)),
    Column("params", J, nullable=False),
    Column("price_input_per_mtok", Float),
    Column("price_output_per_mtok", Float),
)

responses = Table(
    "responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("item_id", String(64), ForeignKey("items.id"), nullable=False),
    Column("model", String(300), ForeignKey("models.id"), nullable=False),
    Column("sample_index", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("latency_ms", Float),
    Column("cost_usd", Float),
    Column("finish_reason", String(50)),
    Column("run_id", String(64)),
    Column("metadata", J, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("ttft_ms", Float),
    Index("ix_responses_item", "item_id"),
    Index("ix_responses_model", "model"),
)

rubrics = Table(
    "rubrics",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("spec", J, nullable=False),
)

guidelines = Table(
    "guidelines",
    metadata,
    Column("rubric", String(220), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("edge_case_id", String(64)),
    Column("author", String(200)),
    Column("created_at", TS, nullable=False),
)

raters = Table(
    "raters",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(300), nullable=False),
    Column("model", String(300)),
    Column("template_digest", String(64)),
    Column("program_version", String(50)),
    Column("config", J, nullable=False),
)

judgments = Table(
    "judgments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("response_id", String(64), ForeignKey("responses.id"), nullable=False),
    Column("rater_id", String(300), ForeignKey("raters.id"), nullable=False),
    Column("rubric", String(220), nullable=False),
    Column("dimension", String(100), nullable=False),
    Column("value", Float),
    Column("label", String(200)),
    Column("justification", Text, nullable=False),
    Column("flags", J, nullable=False),
    Column("flag_note", Text),
    Column("time_spent_s", Float),
    Column("guideline_version", Integer),
    Column("run_id", String(64)),
    Column("campaign_id", String(64)),
    Column("assignment_id", String(64)),
    Column("supersedes", String(64)),
    Column("detail", J, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_judgments_response", "response_id"),
    Index("ix_judgments_rater", "rater_id"),
    Index("ix_judgments_rubric_dim", "rubric", "dimension"),
    # (campaign, id): a campaign's export streams in key order without a sort (migration 0014)
    Index("ix_judgments_campaign", "campaign_id", "id"),
)

comparisons = Table(
    "comparisons",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("item_id", String(64), ForeignKey("items.id"), nullable=False),
    Column("rater_id", String(300), ForeignKey("raters.id"), nullable=False),
    Column("response_ids", J, nullable=False),
    Column("shown_order", J, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("winner", String(64)),
    Column("ranking", J),
    Column("strength", Integer),
    Column("rubric", String(220)),
    Column("dimension", String(100)),
    Column("justification", Text, nullable=False),
    Column("flags", J, nullable=False),
    Column("flag_note", Text),
    Column("time_spent_s", Float),
    Column("guideline_version", Integer),
    Column("run_id", String(64)),
    Column("campaign_id", String(64)),
    Column("assignment_id", String(64)),
    Column("supersedes", String(64)),
    Column("detail", J, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("probability", Float),  # soft preference for response_ids[0] (migration 0012_soft_preferences)
    Index("ix_comparisons_item", "item_id"),
    Index("ix_comparisons_rater", "rater_id"),
    Index("ix_comparisons_campaign", "campaign_id", "id"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("rubric", String(220), nullable=False),
    Column("guideline_version", Integer, nullable=False),
    Column("dimensions", J, nullable=False),
    Column("overlap", Integer, nullable=False),
    Column("gold_share", Float, nullable=False),
    Column("calibration", Boolean, nullable=False),
    Column("blind", Boolean, nullable=False),
    Column("min_justification", Integer, nullable=False),
    Column("deadline", TS),
    Column("status", String(20), nullable=False),
    Column("created_by", String(300)),
    Column("created_at", TS, nullable=False),
    # how the units were sampled from the dataset (migration 0015); NULL: every unit
    Column("selection", J),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("rater_id", String(300), ForeignKey("raters.id"), nullable=False),
    Column("response_ids", J, nullable=False),
    Column("shown_order", J, nullable=False),
    Column("is_gold", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("submitted_at", TS),
    Index("ix_assignments_rater", "rater_id", "campaign_id"),
    # covers the dashboard's counts by rater, status and gold (migration 0014; was campaign_id alone)
    Index("ix_assignments_campaign", "campaign_id", "rater_id", "status", "is_gold"),
    # at most one pending assignment per rater and campaign, however many requests race (migration 0010)
    Index("ux_assignments_one_pending", "campaign_id", "rater_id", unique=True,
          postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("config", J, nullable=False),
    Column("status", String(20), nullable=False),
    Column("total", Integer, nullable=False),
    Column("succeeded", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("cached", Integer, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("errors", J, nullable=False),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
)

edge_cases = Table(
    "edge_cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("rubric", String(220), nullable=False),
    Column("dimension", String(100)),
    Column("response_id", String(64)),
    Column("item_id", String(64)),
    Column("source", String(20), nullable=False),
    Column("note", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("resolution", Text),
    Column("guideline_version", Integer),
    Column("created_at", TS, nullable=False),
    # the campaign whose raters raised it; NULL for judges' cases and cases from before migration 0010
    Column("campaign_id", String(64)),
    Index("ix_edge_cases_campaign", "campaign_id"),
)

# Red teaming and the failure library (migration 0007).
attempts = Table(
    "attempts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("behavior_id", String(64), ForeignKey("items.id"), nullable=False),
    Column("model", String(300), nullable=False),
    Column("attack", String(100), nullable=False),
    Column("attack_config", J, nullable=False),
    Column("stream", Integer, nullable=False),
    Column("turn", Integer, nullable=False),
    Column("parent_id", String(64)),
    Column("item_id", String(64), ForeignKey("items.id"), nullable=False),
    Column("response_id", String(64)),
    Column("success", Boolean),
    Column("score", Float),
    Column("scorer", String(300)),
    Column("note", Text, nullable=False),
    Column("run_id", String(64)),
    Column("created_at", TS, nullable=False),
    Index("ix_attempts_model_attack", "model", "attack"),
    Index("ix_attempts_behavior", "behavior_id"),
    Index("ix_attempts_run", "run_id"),
)

library = Table(
    "library",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("entry", String(120), nullable=False),
    Column("version", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("hypothesis", Text, nullable=False),
    Column("category", String(200)),
    Column("tags", J, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("examples", J, nullable=False),
    Column("models", J, nullable=False),
    Column("detector", J),
    Column("source", String(20), nullable=False),
    Column("evidence", J, nullable=False),
    Column("created_by", String(300)),
    Column("created_at", TS, nullable=False),
    Index("ix_library_entry_version", "entry", "version", unique=True),
)

# Curation (migration 0008): what each cleaning step removed or changed, item by item.
curation_log = Table(
    "curation_log",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("source", String(200), nullable=False),
    Column("target", String(200), nullable=False),
    Column("item_id", String(64), nullable=False),
    Column("action", String(20), nullable=False),
    Column("step", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("related_id", String(64)),
    Column("new_item_id", String(64)),
    Column("detail", J, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_curation_log_run", "run_id"),
    Index("ix_curation_log_item", "item_id"),
)

# Bookkeeping of the run engine (issue 3): one row per work unit, so a killed run resumes.
run_units = Table(
    "run_units",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("unit_key", String(200), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("result_id", String(64)),
    Column("error_kind", String(50)),
    Column("error", Text),
    Column("attempts", Integer, nullable=False),
    Column("updated_at", TS, nullable=False),
    # 0002: what the unit's last execution used, so a resumed run totals every invocation.
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("cost_usd", Float),
    Column("cached", Boolean),
    # 0013: the process working on the unit (host:pid:namespace:token) and until when; a lease that
    # ends (its process died) lets another process take the unit over. Null once the unit is finished.
    Column("claimed_by", String(200)),
    Column("lease_until", TS),
)

# Every model call, keyed by a digest of its full request: a repeated request is free.
request_cache = Table(
    "request_cache",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("model", String(300), nullable=False),
    Column("request", J, nullable=False),
    Column("response", J, nullable=False),
    Column("created_at", TS, nullable=False),
    # 0009: the run whose call made the entry (NULL before 0009 and outside a run), so it can be pruned.
    Column("run_id", String(64)),
    # indexed: both columns sit past the large payloads, which a scan would have to read through
    Index("ix_request_cache_created", "created_at"),
    Index("ix_request_cache_run", "run_id"),
    Index("ix_request_cache_model", "model"),
)

TABLES: dict[str, Table] = {
    "datasets": datasets,
    "items": items,
    "models": models,
    "responses": responses,
    "rubrics": rubrics,
    "guidelines": guidelines,
    "raters": raters,
    "judgments": judgments,
    "comparisons": comparisons,
    "campaigns": campaigns,
    "assignments": assignments,
    "runs": runs,
    "edge_cases": edge_cases,
    "attempts": attempts,
    "library": library,
    "curation_log": curation_log,
}

# ---- the rating app (issue 7, migration 0003) --------------------------------------------
# Bookkeeping of `assay serve`: accounts, sessions, login attempts, campaign units and who
# claimed them, gold answers, and one row per accepted submission (a retried POST is a no-op).

users = Table(
    "users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(10), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("rater_id", String(300), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
)

app_sessions = Table(
    "app_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(100), ForeignKey("users.name"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Index("ix_app_sessions_user", "user_name"),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key", String(200), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("at", TS, nullable=False),
    Index("ix_login_attempts_key_at", "key", "at"),
)

# Password checks counted per key (a name, an address and a name, an address) in the current
# window, reserved atomically before a password is checked (migration 0010). Times are epoch seconds.
login_limits = Table(
    "login_limits",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("n", Integer, nullable=False),
    Column("window_end", Float, nullable=False),
    Column("span", Float, nullable=False),
    Index("ix_login_limits_end", "window_end"),
)

campaign_units = Table(
    "campaign_units",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), primary_key=True),
    Column("unit_id", String(64), primary_key=True),
    Column("item_id", String(64), nullable=False),
    Column("response_ids", J, nullable=False),
    Column("is_gold", Boolean, nullable=False),
    Column("position", Integer, nullable=False),
    Column("n_claims", Integer, nullable=False),
    # False once ``overlap`` raters have the unit (never for gold or calibration units): the
    # partial index below then leaves it out of the queue scan (migration 0004)
    Column("has_room", Boolean, nullable=False, server_default=true()),
    Index("ix_campaign_units_queue", "campaign_id", "is_gold", "position"),
    Index("ix_campaign_units_room", "campaign_id", "is_gold", "position", postgresql_where=text("has_room"),
          sqlite_where=text("has_room")),
)

# The sampling frame of a campaign that labels a sample of a dataset's items (migration 0015):
# every item that could have been drawn, its inclusion probability, and whether it was drawn.
# Inverse-probability weighted estimates (assay.stats.ppi.active_mean) read it.
campaign_frame = Table(
    "campaign_frame",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("probability", Float, nullable=False),
    Column("selected", Boolean, nullable=False),
)

unit_claims = Table(
    "unit_claims",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("unit_id", String(64), primary_key=True),
    Column("rater_id", String(300), primary_key=True),
    Column("assignment_id", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_unit_claims_rater", "campaign_id", "rater_id", "unit_id"),
)

campaign_members = Table(
    "campaign_members",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), primary_key=True),
    Column("rater_id", String(300), primary_key=True),
)

gold_answers = Table(
    "gold_answers",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), primary_key=True),
    Column("unit_id", String(64), primary_key=True),
    Column("dimension", String(100), primary_key=True),
    Column("value", Float),
    Column("label", String(200)),
    Column("outcome", String(20)),
    Column("winner", String(64)),
    Column("ranking", J),
    Column("explanation", Text, nullable=False),
    Column("created_at", TS, nullable=False),
)

submissions = Table(
    "submissions",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("campaign_id", String(64), nullable=False),
    Column("rater_id", String(300), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("record_ids", J, nullable=False),
    Column("created_at", TS, nullable=False),
)

# A rater's "I cannot judge this one" (migration 0005): the assignment is closed as skipped, and
# its unit's slot goes back to the queue for another rater.
skips = Table(
    "skips",
    metadata,
    Column("assignment_id", String(64), ForeignKey("assignments.id"), primary_key=True),
    Column("campaign_id", String(64), nullable=False),
    Column("rater_id", String(300), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_skips_campaign", "campaign_id", "created_at"),
)

# Secrets of the rating app, made once per store so every server worker and process shares them:
# "blind" keys assignment ids, shown orders and the handles raters see (server/blind.py).
app_secrets = Table(
    "app_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("created_at", TS, nullable=False),
)

# The lead dashboard's statistics of a campaign (migration 0014): rater quality, agreement and
# disagreements read every judgment, so they are computed once per state of the campaign (its
# count of done assignments) and kept here, rather than on every view of the page. A cache: not
# among APP_TABLES, so copies and dumps of a store leave it out.
campaign_stats = Table(
    "campaign_stats",
    metadata,
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), primary_key=True),
    Column("done", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("stats", J, nullable=False),
    Column("computed_at", TS, nullable=False),
)

APP_TABLES: dict[str, Table] = {
    t.name: t for t in (users, app_sessions, login_attempts, login_limits, campaign_units, campaign_frame, unit_claims,
                        campaign_members, gold_answers, submissions, skips, app_secrets)
}
