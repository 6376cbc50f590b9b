"""Promotion rules: no aiohttp, no SQL."""
