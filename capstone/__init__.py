"""Capstone: write-once archiving of key officials' mailboxes and Teams chats."""

__version__ = "0.1.0"
