"""Runtime code of central-logging: the Lambda handlers and the core they share with the CLI."""
