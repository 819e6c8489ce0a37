"""Telegram as backup storage: a Bot API client and a Django Storage built on it."""
