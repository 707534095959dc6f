"""`conversations.*` and `users.*`: DMs, history, threads, joining, and who people are."""

from __future__ import annotations

from decimal import Decimal

from bot.app.sandbox.api_chat import conversation, member_of, wire
from bot.app.sandbox.checks import JSON, SlackError, given, invalid_arguments, required, truthy
from bot.app.sandbox.people import BOT_NAME, BOT_USER_ID, TEAM_ID, Person
from bot.app.sandbox.store import SlackState, ts_value

MAX_HISTORY_LIMIT = 999


def open_dm(state: SlackState, args: JSON) -> JSON:
    if given(args.get("channel")):
        return {"channel": {"id": conversation(state, args)}}
    users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 8:
        raise SlackError("too_many_users")
    people = [p for p in (state.directory.person(u) for u in users) if p is not None]
    if len(people) < len(users):
        raise SlackError("user_not_found")
    if len(people) > 1:  # group DMs are not part of the sandbox
        raise SlackError("method_not_supported_for_channel_type")
    person = people[0]
    channel: JSON = {"id": person.dm}
    if truthy(args.get("return_im")):
        channel |= {"is_im": True, "user": person.id, "is_open": True, "unread_count": 0}
    return {"channel": channel}


def _is_top_level(message: JSON) -> bool:
    thread_ts = message.get("thread_ts")
    return thread_ts in (None, message["ts"]) or message.get("subtype") == "thread_broadcast"


def _bound(args: JSON, name: str, default: str | None) -> Decimal | None:
    raw = args.get(name) if given(args.get(name)) else default
    if raw is None:
        return None
    try:
        return ts_value(str(raw))
    except ValueError as exc:
        raise SlackError(f"invalid_ts_{name}") from exc


def history(state: SlackState, args: JSON) -> JSON:
    channel = member_of(state, args)
    oldest = _bound(args, "oldest", "0") or Decimal(0)
    latest = _bound(args, "latest", None)
    inclusive = truthy(args.get("inclusive"))
    try:
        limit = min(max(int(args.get("limit") or 100), 1), MAX_HISTORY_LIMIT)
        offset = int(args.get("cursor") or 0)
    except ValueError as exc:
        raise SlackError("invalid_cursor") from exc

    def in_range(ts: Decimal) -> bool:
        after = ts >= oldest if inclusive else ts > oldest
        before = latest is None or (ts <= latest if inclusive else ts < latest)
        return after and before

    found = [
        m
        for m in state.messages.get(channel, [])
        if _is_top_level(m) and in_range(ts_value(m["ts"]))
    ]
    found.sort(key=lambda m: ts_value(m["ts"]), reverse=True)
    page = found[offset : offset + limit]
    more = offset + limit < len(found)
    with_metadata = truthy(args.get("include_all_metadata"))
    return {
        "messages": [wire(m, with_metadata=with_metadata) for m in page],
        "has_more": more,
        "pin_count": 0,
        "response_metadata": {"next_cursor": str(offset + limit) if more else ""},
    }


def replies(state: SlackState, args: JSON) -> JSON:
    channel = member_of(state, args)
    ts = required(args, "ts")
    if state.find_message(channel, ts) is None:
        raise SlackError("thread_not_found")
    thread = [m for m in state.messages[channel] if ts in (m["ts"], m.get("thread_ts"))]
    thread.sort(key=lambda m: ts_value(m["ts"]))
    with_metadata = truthy(args.get("include_all_metadata"))
    return {
        "messages": [wire(m, with_metadata=with_metadata) for m in thread],
        "has_more": False,
        "response_metadata": {"next_cursor": ""},
    }


def join(state: SlackState, args: JSON) -> JSON:
    channel = conversation(state, args)
    found = state.directory.channel(channel)
    if found is None:
        raise SlackError("method_not_supported_for_channel_type")
    answer: JSON = {
        "channel": {"id": channel, "name": found.name, "is_channel": True, "is_member": True}
    }
    if channel in state.members:
        answer["warning"] = "already_in_channel"
        answer["response_metadata"] = {"warnings": ["already_in_channel"]}
    state.members.add(channel)
    state.touch()
    return answer


def user_object(person: Person | None) -> JSON:
    """A `users.info` user; None is the bot."""
    if person is None:
        user_id, name, real, first, email, tz = BOT_USER_ID, BOT_NAME, BOT_NAME, "", None, "UTC"
    else:
        user_id, name, real, tz = person.id, person.handle, person.name, person.tz
        first, email = person.name.split()[0], person.email
    profile: JSON = {
        "real_name": real,
        "display_name": real,
        "first_name": first,
        "team": TEAM_ID,
    }
    if person is not None:
        profile |= {"title": person.title, "email": email}
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name,
        "real_name": real,
        "deleted": False,
        "is_bot": person is None,
        "is_admin": False,
        "tz": tz,
        "profile": profile,
    }


def info(state: SlackState, args: JSON) -> JSON:
    user = required(args, "user")
    if user == BOT_USER_ID:
        return {"user": user_object(None)}
    person = state.directory.person(user)
    if person is None:
        raise SlackError("user_not_found")
    return {"user": user_object(person)}


def lookup_by_email(state: SlackState, args: JSON) -> JSON:
    email = required(args, "email")
    if "@" not in email:
        raise invalid_arguments("email must be an email address")
    person = state.directory.by_email(email)
    if person is None:
        raise SlackError("users_not_found")
    return {"user": user_object(person)}
