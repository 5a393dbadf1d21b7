"""Everything that persists: run records (versioned JSON), feature sidecars, the run store
(SQLAlchemy), the model cache, and the atomic writes they share."""
