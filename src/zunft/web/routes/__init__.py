"""One router per concept; web/app.py mounts them all under /api/v1."""
