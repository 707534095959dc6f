"""The sandbox: nps-bot without Slack, against an embedded Slack Web API and a page to click."""
