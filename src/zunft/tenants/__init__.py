"""Businesses (Betriebe): the unit of isolation, each with its own data keys and journal."""
