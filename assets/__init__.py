"""Icons, the desktop entry and sample photos (installed as assets)."""
