"""The error codes Slack documents per Web API method, for the fake's failure injection.

Copied from Slack's method reference (each method's `errors`) and its list of errors every
method can return, so that a test can only inject a code the real method is documented to send.
"""

from __future__ import annotations

COMMON = frozenset(
    {
        "access_denied",
        "account_inactive",
        "deprecated_endpoint",
        "ekm_access_denied",
        "enterprise_is_restricted",
        "fatal_error",
        "internal_error",
        "invalid_arg_name",
        "invalid_arguments",
        "invalid_array_arg",
        "invalid_auth",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "is_bot",
        "method_deprecated",
        "missing_post_type",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "not_authed",
        "org_login_required",
        "ratelimited",
        "request_timeout",
        "service_unavailable",
        "team_access_not_granted",
        "team_added_to_org",
        "token_expired",
        "token_revoked",
        "two_factor_setup_required",
    }
)

BY_METHOD: dict[str, frozenset[str]] = {
    "auth.test": frozenset({"invalid_auth"}),
    "chat.postMessage": frozenset(
        {
            "app_access_restricted",
            "as_user_not_supported",
            "attachment_payload_limit_exceeded",
            "cannot_reply_to_message",
            "channel_not_found",
            "duplicate_channel_not_found",
            "duplicate_message_not_found",
            "ekm_access_denied",
            "invalid_blocks",
            "invalid_blocks_format",
            "invalid_metadata_format",
            "invalid_metadata_schema",
            "is_archived",
            "markdown_text_conflict",
            "message_limit_exceeded",
            "messages_tab_disabled",
            "metadata_must_be_sent_from_app",
            "metadata_too_large",
            "missing_file_data",
            "msg_blocks_too_long",
            "no_text",
            "not_in_channel",
            "rate_limited",
            "restricted_action",
            "restricted_action_non_threadable_channel",
            "restricted_action_read_only_channel",
            "restricted_action_thread_locked",
            "restricted_action_thread_only_channel",
            "send_on_behalf_not_allowed",
            "slack_connect_canvas_sharing_blocked",
            "slack_connect_file_link_sharing_blocked",
            "slack_connect_lists_sharing_blocked",
            "team_not_found",
            "too_many_attachments",
            "too_many_contact_cards",
        }
    ),
    "chat.update": frozenset(
        {
            "as_user_not_supported",
            "block_mismatch",
            "cant_broadcast_message",
            "cant_update_message",
            "channel_not_found",
            "edit_window_closed",
            "external_channel_migrating",
            "invalid_attachments",
            "invalid_blocks",
            "invalid_blocks_format",
            "invalid_metadata_format",
            "invalid_metadata_schema",
            "is_inactive",
            "message_limit_exceeded",
            "message_not_found",
            "metadata_must_be_sent_from_app",
            "metadata_too_large",
            "msg_too_long",
            "no_dual_broadcast_content_update",
            "no_text",
            "posting_to_channel_denied",
            "team_not_found",
            "too_many_attachments",
            "update_failed",
        }
    ),
    "chat.getPermalink": frozenset({"channel_not_found", "message_not_found"}),
    "conversations.open": frozenset(
        {
            "channel_not_found",
            "invalid_user_combination",
            "method_not_supported_for_channel_type",
            "not_enough_users",
            "too_many_users",
            "user_disabled",
            "user_not_found",
            "user_not_visible",
            "users_list_not_supplied",
        }
    ),
    "conversations.history": frozenset(
        {"channel_not_found", "invalid_cursor", "invalid_ts_latest", "invalid_ts_oldest"}
        | {"not_in_channel"}
    ),
    "conversations.replies": frozenset(
        {"channel_not_found", "invalid_cursor", "invalid_ts_latest", "invalid_ts_oldest"}
        | {"not_in_channel", "thread_not_found"}
    ),
    "conversations.join": frozenset(
        {
            "channel_not_found",
            "is_archived",
            "method_not_supported_for_channel_type",
            "too_many_members",
            "user_is_restricted",
        }
    ),
    "users.lookupByEmail": frozenset({"enterprise_is_restricted", "users_not_found"}),
    "users.info": frozenset({"user_not_found", "user_not_visible"}),
    "files.getUploadURLExternal": frozenset({"invalid_arguments"}),
    "files.completeUploadExternal": frozenset(
        {"channel_not_found", "file_not_found", "is_archived", "not_in_channel"}
    ),
}


def documented(method: str, error: str) -> bool:
    """Whether Slack documents `error` for `method` (or for every method)."""
    return error in COMMON or error in BY_METHOD.get(method, frozenset())
