"""Modal submissions: validate, apply through the workflow, and answer within 3 seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from blocks import forms, modals, playbook_modals
from blocks.ids import ModalCallback
from bot.services.workflow import Outcome, Workflow


def _submit(
    parse: Callable[..., Any],
    apply: Callable[[Workflow, int, str, Any], Outcome],
    error_block: str,
) -> Callable[..., None]:
    """A view_submission listener: field errors and refusals go back into the modal."""

    def submit(ack: Ack, body: dict, view: dict, workflow: Workflow) -> None:
        parsed = parse(view["state"]["values"], today=workflow.today())
        if isinstance(parsed, dict):
            ack(response_action="errors", errors=parsed)
            return
        case_id = int(modals.read_metadata(view.get("private_metadata", ""))["case_id"])
        outcome = apply(workflow, case_id, body["user"]["id"], parsed)
        if outcome.ok:
            ack()
        else:
            ack(response_action="errors", errors={error_block: outcome.message or "Not allowed."})

    return submit


def register(app: App) -> None:
    app.view(ModalCallback.LOG_CONTACT)(
        _submit(
            forms.parse_log_contact,
            lambda w, case_id, user, entry: w.log_contact(case_id, user, entry),
            modals.ModalBlock.CONTACT_OUTCOME,
        )
    )
    app.view(ModalCallback.ROOT_CAUSE)(
        _submit(
            forms.parse_root_cause,
            lambda w, case_id, user, entry: w.root_cause(case_id, user, entry),
            modals.ModalBlock.CAUSE,
        )
    )
    app.view(ModalCallback.RESOLVE)(
        _submit(
            forms.parse_resolve,
            lambda w, case_id, user, entry: w.resolve(case_id, user, entry),
            modals.ModalBlock.SUMMARY,
        )
    )
    app.view(ModalCallback.REASSIGN)(
        _submit(
            forms.parse_reassign,
            lambda w, case_id, user, entry: w.reassign(case_id, user, entry.new_owner),
            modals.ModalBlock.NEW_OWNER,
        )
    )
    app.view(ModalCallback.INSIGHT)(
        _submit(
            playbook_modals.parse_insight,
            lambda w, case_id, user, entry: w.insight(case_id, user, entry),
            modals.ModalBlock.CAUSE,
        )
    )
    app.view(ModalCallback.ADVOCACY)(
        _submit(
            playbook_modals.parse_advocacy,
            lambda w, case_id, user, entry: w.advocacy(case_id, user, entry),
            modals.ModalBlock.ADVOCACY_KIND,
        )
    )
