"""Chats (Unterhaltungen): project team chats, company channels, 1:1 direct chats; membership."""
