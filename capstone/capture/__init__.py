"""The capture engine: scheduler, runs, cursors, reconciliation, manifests."""
