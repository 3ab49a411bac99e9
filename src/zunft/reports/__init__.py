"""Problem reports (Meldungen): categories, routing, acknowledgement, escalation, boards."""
