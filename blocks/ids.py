"""Every Slack action, block and callback id the bot emits and listens for."""

from enum import StrEnum


class CardAction(StrEnum):
    CLAIM = "case_claim"
    LOG_CONTACT = "case_log_contact"
    ROOT_CAUSE = "case_root_cause"
    RESOLVE = "case_resolve"
    REASSIGN = "case_reassign"
    DONE = "case_done"


class CardBlock(StrEnum):
    HEADER = "case_header"
    FACTS = "case_facts"
    COMMENT = "case_comment"
    ROUTING = "case_routing"
    HISTORY = "case_history"
    ACTIONS = "case_actions"
