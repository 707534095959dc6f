"""What each Slack failure means for a delivery: one table, from Slack's documented error lists.

Sources: the `errors` of chat.postMessage, chat.update, conversations.* and users.* in Slack's
method reference, and its list of errors every method can return. A code not in the table is
treated as transient: retried with backoff, up to the outbox's attempt cap.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
from enum import StrEnum

from slack_sdk.errors import SlackApiError


class Disposition(StrEnum):
    """What to do with a delivery after a failure."""

    TOKEN = "token"  # the token or the app is at fault: pause all delivery, keep the row
    RATE_LIMITED = "rate_limited"  # wait for Retry-After; no attempt counted
    PERMANENT = "permanent"  # no retry will mend it: failed
    CHANNEL = "channel"  # the channel refuses the bot: join, or a card falls back
    AMBIGUOUS = "ambiguous"  # it may have gone through: check before any re-post
    TRANSIENT = "transient"  # try again later, with backoff and a cap


_TOKEN = {
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "missing_scope",
    "no_permission",
    "not_allowed_token_type",
    "org_login_required",
    "two_factor_setup_required",
}
_CHANNEL = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
    "method_not_supported_for_channel_type",
    "duplicate_channel_not_found",
}
_PERMANENT = {
    # the message itself
    "invalid_blocks",
    "invalid_blocks_format",
    "invalid_attachments",
    "msg_too_long",
    "msg_blocks_too_long",
    "no_text",
    "too_many_attachments",
    "too_many_contact_cards",
    "attachment_payload_limit_exceeded",
    "markdown_text_conflict",
    "invalid_metadata_format",
    "invalid_metadata_schema",
    "metadata_too_large",
    "metadata_must_be_sent_from_app",
    "as_user_not_supported",
    "send_on_behalf_not_allowed",
    "missing_file_data",
    "slack_connect_canvas_sharing_blocked",
    "slack_connect_file_link_sharing_blocked",
    "slack_connect_lists_sharing_blocked",
    # where it goes
    "restricted_action_thread_locked",
    "cannot_reply_to_message",
    "messages_tab_disabled",
    "cannot_dm_bot",
    "user_not_found",
    "user_disabled",
    "user_not_visible",
    "team_not_found",
    "duplicate_message_not_found",
    "thread_not_found",
    # the message to update
    "message_not_found",
    "cant_update_message",
    "cant_broadcast_message",
    "edit_window_closed",
    "is_inactive",
    "block_mismatch",
    "posting_to_channel_denied",
    "no_dual_broadcast_content_update",
    "file_not_found",
    "file_deleted",
    "file_is_deleted",
    # the workspace's policy
    "team_access_not_granted",
    "ekm_access_denied",
    "enterprise_is_restricted",
    "app_access_restricted",
    "access_denied",
    # the request as built
    "invalid_arguments",
    "invalid_arg_name",
    "invalid_array_arg",
    "invalid_charset",
    "invalid_form_data",
    "invalid_post_type",
    "missing_post_type",
    "invalid_json",
    "json_not_object",
    "unknown_method",
    "method_deprecated",
    "deprecated_endpoint",
    "no_destination",
}
TOKEN_ERRORS = frozenset(_TOKEN)
_AMBIGUOUS = {"fatal_error", "internal_error", "service_unavailable", "request_timeout"}

ERRORS: dict[str, Disposition] = {
    **dict.fromkeys(_TOKEN, Disposition.TOKEN),
    **dict.fromkeys(_CHANNEL, Disposition.CHANNEL),
    **dict.fromkeys(_PERMANENT, Disposition.PERMANENT),
    **dict.fromkeys(_AMBIGUOUS, Disposition.AMBIGUOUS),
    "ratelimited": Disposition.RATE_LIMITED,
    "rate_limited": Disposition.RATE_LIMITED,
}

# Calls that change something each time they are made: never repeated without a check.
NOT_IDEMPOTENT = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "files.completeUploadExternal"}
)


def error_code(exc: SlackApiError) -> str:
    """Slack's error code, or `http_<status>` for an answer that is not Slack's JSON."""
    response = exc.response
    code = response.get("error") if isinstance(response.data, dict) else None
    if response.status_code == 429:
        return "ratelimited"
    if response.status_code >= 500 or not code:
        return f"http_{response.status_code}"
    return str(code)


def classify(exc: SlackApiError) -> Disposition:
    """What an error answer from Slack means for the delivery that met it."""
    if exc.response.status_code == 429:
        return Disposition.RATE_LIMITED
    if exc.response.status_code >= 500:
        return Disposition.AMBIGUOUS
    return ERRORS.get(error_code(exc), Disposition.TRANSIENT)


def never_sent(error: BaseException | None) -> bool:
    """True when a connection error proves the request never reached Slack."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def dropped(error: BaseException) -> bool:
    """A connection error or timeout: Slack may or may not have acted on the request."""
    return isinstance(
        error, urllib.error.URLError | ConnectionError | TimeoutError | http.client.HTTPException
    )


def missing_scope(exc: SlackApiError) -> str | None:
    """The scope a `missing_scope` answer says is needed."""
    needed = exc.response.get("needed") if isinstance(exc.response.data, dict) else None
    return str(needed) if needed else None
