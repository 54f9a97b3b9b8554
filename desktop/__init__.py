"""The Rehue desktop application (PySide6), a thin layer over rehue.engine."""
