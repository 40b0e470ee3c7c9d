"""The operator CLI of central-logging: `central-logging backfill` and `central-logging audit`."""
