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


Block = modals.ModalBlock
Callback = ModalCallback

# Each modal: its parser, the workflow step it feeds, and the block a refusal is shown beside.
SUBMISSIONS: tuple[tuple[str, Callable[..., Any], Callable[..., Outcome], str], ...] = (
    (
        ModalCallback.LOG_CONTACT,
        forms.parse_log_contact,
        Workflow.log_contact,
        Block.CONTACT_OUTCOME,
    ),
    (Callback.ROOT_CAUSE, forms.parse_root_cause, Workflow.root_cause, Block.CAUSE),
    (Callback.RESOLVE, forms.parse_resolve, Workflow.resolve, Block.SUMMARY),
    (Callback.INSIGHT, playbook_modals.parse_insight, Workflow.insight, Block.CAUSE),
    (
        ModalCallback.ADVOCACY,
        playbook_modals.parse_advocacy,
        Workflow.advocacy,
        Block.ADVOCACY_KIND,
    ),
)


def register(app: App) -> None:
    for callback, parse, apply, error_block in SUBMISSIONS:
        app.view(callback)(_submit(parse, apply, error_block))
    app.view(ModalCallback.REASSIGN)(
        _submit(
            forms.parse_reassign,
            lambda w, case_id, user, entry: w.reassign(case_id, user, entry.new_owner),
            Block.NEW_OWNER,
        )
    )
