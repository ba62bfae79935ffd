"""Command-line client for the agent API: SigV4-signed `POST /chat`, printing the answer as it streams."""
