"""Agent API: the Strands agent Lambda, its Docker-free bundling and the streaming REST API."""
