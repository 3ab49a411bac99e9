"""Staff accounts, passwords, second factor, device sessions and invitations."""
