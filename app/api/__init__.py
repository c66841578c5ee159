"""The server's routes: REST, WebSockets and the page, each taking what it needs through `Annotated`
dependencies (app/api/deps.py)."""
