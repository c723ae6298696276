"""Archived Teams chats, read back from the vault alone: listing and HTML transcripts."""
