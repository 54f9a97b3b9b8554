"""The shipped colorization model(s), their manifest and model card (installed as models)."""
