"""How people reach concierge: the command line today; the FastAPI chat service, widget, handoff
console and Slack integration as they land. Kept import-light so the CLI starts fast."""
