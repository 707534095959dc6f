"""Benchmarks for nps-bot: survey intake against a minimal floor server."""
