"""Conversation insights: categories (rules over what was said), search, call drivers."""
