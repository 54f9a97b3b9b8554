"""Icons, the desktop entry and sample photos (installed as rehue_assets)."""
