"""Imports into the vault of what capture cannot reach: business chats exported from officials'
phones (WhatsApp, Signal, SMS/MMS) and historic mailboxes (MBOX, EML, MSG, PST).

One module per format reads an export as a stream of typed messages (:mod:`.model`); one service
(:mod:`.service`) stores the original export, then each message as a record with provenance, in a run
with a manifest and a reconciliation."""
