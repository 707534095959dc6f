"""The person's side of Slack: clicks, submissions, commands and Home, signed and sent to the app.

Every request goes over HTTP to the app's own `POST /slack/events`, signed as Slack signs:
`v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from bot.app.sandbox import api_views, payloads
from bot.app.sandbox.checks import JSON, SlackError, check_view
from bot.app.sandbox.people import SLACKBOT_ID, Person
from bot.app.sandbox.store import OpenView, SlackState

log = logging.getLogger(__name__)

ACK_TIMEOUT = 3.0  # Slack gives an app 3 seconds to answer
TROUBLE = "We had some trouble connecting. Try again?"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, content_type: str) -> dict[str, str]:
    """The headers Slack sends with a request: content type, timestamp and signature."""
    timestamp = str(int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(secret, timestamp, body),
    }


@dataclass(frozen=True)
class Sent:
    """The app's answer: its HTTP status (0 when it did not answer in time) and body."""

    status: int
    body: bytes


class Refused(Exception):
    """What a person tried cannot be done in Slack; the message says why."""


class Interactions:
    """Turns what a person does on the page into the requests Slack would send the app."""

    def __init__(
        self,
        state: SlackState,
        *,
        signing_secret: str,
        events_url: str,
        timeout: float = ACK_TIMEOUT,
    ) -> None:
        self.state = state
        self.secret = signing_secret
        self.events_url = events_url
        self.timeout = timeout

    def send(self, body: bytes, content_type: str) -> Sent:
        """POST a signed request to the app's Slack endpoint."""
        headers = signed_headers(self.secret, body, content_type)
        request = urllib.request.Request(self.events_url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return Sent(answer.status, answer.read())
        except urllib.error.HTTPError as exc:
            return Sent(exc.code, exc.read())
        except (urllib.error.URLError, TimeoutError, OSError):
            return Sent(0, b"")

    def _send_payload(self, payload: JSON) -> Sent:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.send(body, "application/x-www-form-urlencoded")

    def person(self, user: str) -> Person:
        person = self.state.directory.person(user)
        if person is None:
            raise Refused("There is no such person in the sandbox.")
        return person

    def _visible(self, person: Person, channel: str) -> None:
        owner = self.state.directory.dm_owner(channel)
        if owner is not None and owner.id != person.id:
            raise Refused(f"Only {owner.name} sees this conversation: act as them to use it.")

    # --- clicks ----------------------------------------------------------------------------------

    def click(self, user: str, *, channel: str, ts: str, block_id: str, action_id: str) -> None:
        """A button on a message, clicked by `user`."""
        person = self.person(user)
        self._visible(person, channel)
        with self.state.lock:
            message = self.state.find_message(channel, ts)
            element = _button(message, block_id, action_id) if message else None
            if message is None or element is None:
                raise Refused("That button is no longer there.")
            payload = payloads.block_action(
                person,
                trigger_id=self.state.issue_trigger(person.id),
                channel={"id": channel, "name": self._channel_name(channel)},
                message=message,
                element=element,
                block_id=block_id,
                response_url=self.state.issue_response_url(
                    user=person.id, channel=channel, message_ts=ts
                ),
            )
        sent = self._send_payload(payload)
        log.info("sandbox.click action_id=%s user=%s status=%s", action_id, user, sent.status)
        if sent.status != 200:
            self._slackbot(person, channel, f"{TROUBLE} (the app answered {sent.status or 'late'})")

    def _channel_name(self, channel: str) -> str:
        found = self.state.directory.channel(channel)
        return found.name if found else "directmessage"

    def _slackbot(self, person: Person, channel: str, text: str) -> None:
        """A note from Slackbot that only `person` sees, as Slack shows failures."""
        with self.state.lock:
            ts = self.state.next_ts()
            note = {"user": SLACKBOT_ID, "ts": ts, "text": text, "blocks": []}
            self.state.ephemerals.append({**note, "channel": channel, "to": person.id})
            self.state.touch()

    # --- modals ----------------------------------------------------------------------------------

    def _open_view(self, user: str, view_id: str) -> OpenView:
        current = self.state.top_view(user)
        if current is None or current.view["id"] != view_id:
            raise Refused("That form is no longer open.")
        return current

    def submit(self, user: str, view_id: str, entered: JSON) -> None:
        """Submit the top modal of `user` with what they entered."""
        person = self.person(user)
        with self.state.lock:
            current = self._open_view(user, view_id)
            values, errors = payloads.view_values(current.view, entered)
            current.values, current.errors, current.problem = entered, errors, None
            self.state.touch()
            if errors:
                return
            payload = payloads.view_submission(
                person,
                trigger_id=self.state.issue_trigger(user),
                view=current.view,
                values=values,
            )
        sent = self._send_payload(payload)
        log.info(
            "sandbox.submit callback_id=%s status=%s", current.view["callback_id"], sent.status
        )
        with self.state.lock:
            if self.state.top_view(user) is current:
                self._after_submit(current, sent)

    def _after_submit(self, current: OpenView, sent: Sent) -> None:
        """Apply the app's answer to a submission, as Slack does."""
        user = current.user
        try:
            answer = json.loads(sent.body) if sent.body.strip() else {}
        except ValueError:
            answer = None
        if sent.status != 200 or not isinstance(answer, dict):
            current.problem = TROUBLE
        elif not answer:
            self.state.pop_view(user)
        elif answer.get("response_action") == "errors":
            self._show_errors(current, answer.get("errors"))
        elif answer.get("response_action") in ("update", "push"):
            try:
                view = check_view(answer, ("modal",))
                if answer["response_action"] == "update":
                    api_views.replace_view(self.state, current, view)
                else:
                    api_views.push_view(self.state, user, view)
            except SlackError as exc:
                current.problem = f"{TROUBLE} ({exc.error})"
        elif answer.get("response_action") == "clear":
            self.state.close_views(user)
        else:
            current.problem = TROUBLE
        self.state.touch()

    @staticmethod
    def _show_errors(current: OpenView, errors: object) -> None:
        blocks = {b.get("block_id") for b, _ in payloads.input_blocks(current.view)}
        if (
            not isinstance(errors, dict)
            or not errors
            or not all(isinstance(v, str) for v in errors.values())
            or not set(errors) <= blocks
        ):
            current.problem = f"{TROUBLE} (the app answered with errors for fields not in the form)"
            return
        current.errors = dict(errors)

    def close(self, user: str, view_id: str) -> None:
        """Cancel the top modal of `user`; tell the app when the view asked to be told."""
        person = self.person(user)
        with self.state.lock:
            current = self._open_view(user, view_id)
            cleared = bool(current.view.get("clear_on_close"))
            if cleared:
                self.state.close_views(user)
            else:
                self.state.pop_view(user)
            notify = bool(current.view.get("notify_on_close"))
        if notify:
            self._send_payload(payloads.view_closed(person, view=current.view, cleared=cleared))

    # --- commands and Home -----------------------------------------------------------------------

    def command(self, user: str, *, channel: str, line: str) -> None:
        """A slash command typed by `user` in `channel`, e.g. `/nps kpi 30d`."""
        person = self.person(user)
        self._visible(person, channel)
        name, _, text = line.strip().partition(" ")
        if name != "/nps":
            raise Refused(f"{name or 'That'} is not a command of this app; try /nps help.")
        form = payloads.slash_command(
            person,
            command=name,
            text=text.strip(),
            channel_id=channel,
            channel_name=self._channel_name(channel),
            trigger_id=self.state.issue_trigger(user),
            response_url=self.state.issue_response_url(user=user, channel=channel),
        )
        sent = self.send(urlencode(form).encode(), "application/x-www-form-urlencoded")
        log.info("sandbox.command user=%s status=%s", user, sent.status)
        if sent.status != 200:
            error = "operation_timeout" if sent.status == 0 else "dispatch_failed"
            self._slackbot(person, channel, f'{name} failed with the error "{error}"')

    def open_home(self, user: str) -> None:
        """Open the app's Home tab as `user`: Slack sends `app_home_opened`."""
        person = self.person(user)
        event = payloads.app_home_opened(person, view=self.state.home_of(user))
        sent = self.send(json.dumps(event).encode(), "application/json")
        log.info("sandbox.home_opened user=%s status=%s", user, sent.status)


def _button(message: JSON, block_id: str, action_id: str) -> JSON | None:
    """The interactive element with these ids in a message's blocks."""
    for block in message.get("blocks") or []:
        if block.get("block_id") != block_id:
            continue
        candidates = [*(block.get("elements") or []), block.get("accessory")]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None
