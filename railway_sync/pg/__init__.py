"""PostgreSQL itself: the driver, URLs, connections, quoting, locks, failures and GRANTs."""
