"""Every Slack action, block and callback id the bot emits and listens for."""

from enum import StrEnum


class CardAction(StrEnum):
    """Buttons on the case card; each button's value is the case id."""

    CLAIM = "case_claim"
    LOG_CONTACT = "case_log_contact"
    ROOT_CAUSE = "case_root_cause"
    RESOLVE = "case_resolve"
    REASSIGN = "case_reassign"
    DONE = "case_done"
    LOG_INSIGHT = "case_log_insight"
    LOG_ADVOCACY = "case_log_advocacy"


class CardBlock(StrEnum):
    """Blocks of the case card."""

    HEADER = "case_header"
    STATUS = "case_status"
    FACTS = "case_facts"
    COMMENT = "case_comment"
    ROUTING = "case_routing"
    HISTORY = "case_history"
    SCRIPT = "case_script"
    ACTIONS = "case_actions"


class ModalCallback(StrEnum):
    """The callback id of each modal, as its view_submission arrives."""

    LOG_CONTACT = "modal_log_contact"
    ROOT_CAUSE = "modal_root_cause"
    RESOLVE = "modal_resolve"
    REASSIGN = "modal_reassign"
    INSIGHT = "modal_insight"
    ADVOCACY = "modal_advocacy"
    MARK_FIXED = "modal_mark_fixed"


class ModalBlock(StrEnum):
    """Input block ids: the keys of `view.state.values` and of `response_action: errors`."""

    CONTEXT = "modal_context"
    CURRENT_OWNER = "current_owner"
    CONTACT_HOW = "contact_how"
    CONTACT_OUTCOME = "contact_outcome"
    CONTACT_NOTES = "contact_notes"
    NEXT_FOLLOW_UP = "next_follow_up"
    CAUSE = "cause"
    CAUSE_NOTES = "cause_notes"
    ACTION_ITEMS = "action_items"
    ESCALATION = "escalation"
    SUMMARY = "summary"
    SATISFIED = "satisfied"
    RESURVEY_ON = "resurvey_on"
    NEW_OWNER = "new_owner"
    QUICK_WIN = "quick_win"
    INSIGHT_NOTES = "insight_notes"
    ADVOCACY_KIND = "advocacy_kind"
    ADVOCACY_STAGE = "advocacy_stage"
    ADVOCACY_NOTES = "advocacy_notes"
    FIX_WHAT = "fix_what"
    FIX_SHIPPED = "fix_shipped"


class ModalAction(StrEnum):
    """The action id of the one element inside each input block."""

    CONTACT_HOW = "contact_how_input"
    CONTACT_OUTCOME = "contact_outcome_input"
    CONTACT_NOTES = "contact_notes_input"
    NEXT_FOLLOW_UP = "next_follow_up_input"
    CAUSE = "cause_input"
    CAUSE_NOTES = "cause_notes_input"
    ACTION_ITEMS = "action_items_input"
    ESCALATION = "escalation_input"
    SUMMARY = "summary_input"
    SATISFIED = "satisfied_input"
    RESURVEY_ON = "resurvey_on_input"
    NEW_OWNER = "new_owner_input"
    QUICK_WIN = "quick_win_input"
    INSIGHT_NOTES = "insight_notes_input"
    ADVOCACY_KIND = "advocacy_kind_input"
    ADVOCACY_STAGE = "advocacy_stage_input"
    ADVOCACY_NOTES = "advocacy_notes_input"
    FIX_WHAT = "fix_what_input"
    FIX_SHIPPED = "fix_shipped_input"


class ManagerAction(StrEnum):
    """Buttons in the manager's escalation DM; each button's value is the case id."""

    NUDGE = "escalation_nudge"
    REASSIGN = "escalation_reassign"


class MessageBlock(StrEnum):
    """Blocks of the short messages: alerts, escalations, tickets and reviews."""

    INTRO = "message_intro"
    SUMMARY = "message_summary"
    COMMENT = "message_comment"
    DETAILS = "message_details"
    FOOTER = "message_footer"
    ACTIONS = "message_actions"


class HomeBlock(StrEnum):
    """Blocks of the App Home tab; case rows are `home_case_<id>`."""

    HEADER = "home_header"
    SUMMARY = "home_summary"
    EMPTY = "home_empty"
    MORE = "home_more"
    CASE_PREFIX = "home_case_"


class AdvocacyBlock(StrEnum):
    """The advocacy section that follows the KPIs in `/nps kpi`."""

    COUNTS = "kpi_advocacy"
    OUTSIDE_PILOT = "kpi_outside_pilot"


class FixAction(StrEnum):
    """Buttons of the outer loop: a theme's Mark fixed (value: the theme's name) and the owner's
    Mark told (value: "<fix id>:<customer id>") and Mark all told (value: the fix id)."""

    MARK_FIXED = "theme_mark_fixed"
    MARK_TOLD = "fix_mark_told"
    MARK_ALL_TOLD = "fix_mark_all_told"


class FixBlock(StrEnum):
    """Blocks of the fix messages; a customer's row is `fix_customer_<n>`."""

    DRAFT = "fix_draft"
    INTRO = "fix_intro"
    CUSTOMER_PREFIX = "fix_customer_"
    ALL = "fix_all"
