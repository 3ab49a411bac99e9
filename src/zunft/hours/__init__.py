"""Working hours, the business's time rules, and notifications that honour them."""
