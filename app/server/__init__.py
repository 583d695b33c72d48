"""The team server: an ASGI app (FastAPI under uvicorn) that relays revisions and evidence files
between the laptops of a team. It stores what devices push and hands it to the others; it never
merges (the laptops do, deterministically), so it stays small and every team is kept apart."""
