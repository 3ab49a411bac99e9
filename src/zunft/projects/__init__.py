"""Projects (Aufträge/Baustellen): name, address, customer, lead, status, and their team chat."""
