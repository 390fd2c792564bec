"""Services: the only door through which cases, deadlines and audit events change."""
