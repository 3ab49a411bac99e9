"""Customers as guests: invitations, recorded consent, customer chats, reply reminders."""
