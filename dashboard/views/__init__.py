"""The dashboard pages: scripts Streamlit runs (a package so the import contracts see them)."""
