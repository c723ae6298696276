"""Woo-verzoeken: cases with their deadlines, case-bound search, export with inventarislijst."""
